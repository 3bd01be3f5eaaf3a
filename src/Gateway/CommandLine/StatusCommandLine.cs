using System.CommandLine;
using Gateway.Status;

namespace Gateway.CommandLine;

/// <summary><c>gateway status</c>: the running gateway's <c>/api/status</c> as tables (<see cref="StatusCommand"/>).</summary>
internal static class StatusCommandLine
{
    public static Command Create(CommandContext context)
    {
        var status = new Command("status", "Prints the running gateway's state as tables (from its admin API on the HTTP port).");
        status.SetAction(async (parse, cancel) =>
            context.Locate(parse) is { } location
                ? await StatusCommand.RunAsync(location.BaseAddress, Console.Out, Console.Error, cancel).ConfigureAwait(false)
                : 2);
        return status;
    }
}
