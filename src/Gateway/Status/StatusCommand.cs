using System.Net.Http.Json;
using System.Text.Json;

namespace Gateway.Status;

/// <summary>
/// <c>gateway status</c>: asks a running gateway for <c>/api/status</c> and prints it as tables
/// (<see cref="StatusTable"/>). Exit 0 with the tables, 1 with one line on stderr when the gateway
/// cannot be reached or does not answer with a status.
/// </summary>
public static class StatusCommand
{
    /// <summary>A gateway that does not answer within this is as good as unreachable for a person waiting at a prompt.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(Uri gatewayHttp, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var url = new Uri(gatewayHttp, "/api/status");
        using var http = new HttpClient { Timeout = Timeout };
        StatusReport? report;
        try
        {
            using var response = await http.GetAsync(url, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                await stderr.WriteLineAsync($"gateway status: {url} answered {(int)response.StatusCode} {response.ReasonPhrase}").ConfigureAwait(false);
                return 1;
            }
            report = await response.Content.ReadFromJsonAsync(StatusJson.Default.StatusReport, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            var reason = ex is TaskCanceledException ? $"no answer within {Timeout.TotalSeconds:0} s" : ex.Message;
            await stderr.WriteLineAsync($"gateway status: cannot reach the gateway at {gatewayHttp}: {reason}").ConfigureAwait(false);
            return 1;
        }
        catch (JsonException ex)
        {
            await stderr.WriteLineAsync($"gateway status: {url} did not answer with a status: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        if (report is null)
        {
            await stderr.WriteLineAsync($"gateway status: {url} answered an empty status").ConfigureAwait(false);
            return 1;
        }

        await stdout.WriteAsync(StatusTable.Render(report)).ConfigureAwait(false);
        return 0;
    }
}
