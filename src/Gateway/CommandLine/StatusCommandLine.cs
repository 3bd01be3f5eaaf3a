using System.CommandLine;

namespace Gateway.CommandLine;

/// <summary>
/// <c>gateway status</c>. For now it prints the running gateway's <c>/api/status</c> JSON as it is;
/// the dashboard's StatusCommand (a table) replaces this handler at merge.
/// </summary>
internal static class StatusCommandLine
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static Command Create(CommandContext context)
    {
        var status = new Command("status", "Prints the running gateway's state (from its admin API on the HTTP port).");
        status.SetAction(async (parse, cancel) =>
        {
            if (context.Locate(parse) is not { } location) return 2;
            using var http = new HttpClient { BaseAddress = location.BaseAddress, Timeout = Timeout };
            try
            {
                using var answer = await http.GetAsync("/api/status", cancel);
                var body = await answer.Content.ReadAsStringAsync(cancel);
                if (!answer.IsSuccessStatusCode)
                {
                    await Console.Error.WriteLineAsync($"gateway: the gateway at {location.BaseAddress} answered {(int)answer.StatusCode}: {body}");
                    return 1;
                }
                Console.Out.WriteLine(body);
                return 0;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                await Console.Error.WriteLineAsync($"gateway: no gateway answers at {location.BaseAddress}: {ex.Message}");
                return 1;
            }
        });
        return status;
    }
}
