using System.CommandLine;
using Gateway.Configuration;

namespace Gateway.CommandLine;

/// <summary>What every command shares: the configuration overrides and <c>--config</c>, and how a failure is said.</summary>
internal sealed class CommandContext(string[] overrides)
{
    public string[] Overrides { get; } = overrides;

    public Option<string> ConfigOption { get; } = new("--config")
    {
        Description = "The configuration file (instead of GATEWAY_CONFIG or firmware-config/gateway.json beside the program).",
        Recursive = true,
    };

    public string? ConfigFile(ParseResult parse) => parse.GetValue(ConfigOption);

    /// <summary>Prints one line per problem on stderr; the exit code for a configuration error.</summary>
    public static int ConfigurationError(IEnumerable<string> problems)
    {
        foreach (var problem in problems) Console.Error.WriteLine($"gateway: configuration error: {problem}");
        return 2;
    }

    /// <summary>The running gateway's location from the configuration, or null after printing why not.</summary>
    public GatewayLocation? Locate(ParseResult parse)
    {
        var (options, problems) = CommandConfiguration.Check(ConfigFile(parse), Overrides);
        if (options is null)
        {
            ConfigurationError(problems);
            return null;
        }
        return new GatewayLocation(options);
    }

    /// <summary>Runs a backlog command on the running gateway or, failing that, on its store; says which on stderr.</summary>
    public async Task<int> WithBacklogAsync(ParseResult parse, Func<IBacklogAccess, Task<int>> command, CancellationToken cancellationToken, bool write = false)
    {
        if (Locate(parse) is not { } location) return 2;
        try
        {
            await using var access = await BacklogAccess.ConnectAsync(location, write, cancellationToken);
            await Console.Error.WriteLineAsync($"gateway: {access.Mode}");
            return await command(access);
        }
        catch (CommandFailedException ex)
        {
            await Console.Error.WriteLineAsync($"gateway: {ex.Message}");
            return ex.ExitCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or UnauthorizedAccessException or Core.Outbox.OutboxRejectedException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The gateway went away mid-way, a file to export to cannot be written, the store refused.
            await Console.Error.WriteLineAsync($"gateway: {ex.Message}");
            return 1;
        }
    }
}
