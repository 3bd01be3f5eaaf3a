using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Gateway.CommandLine;

/// <summary>
/// The <c>gateway</c> command line. <c>gateway</c> and <c>gateway run</c> start the service;
/// the other commands never do. Anything the parser does not know is an error (exit 2), and
/// configuration overrides (<c>--Gateway:Mqtt:Port=1884</c>) go to the configuration, for every command.
/// </summary>
public static class GatewayCommandLine
{
    /// <summary>The exit code of a usage or configuration error.</summary>
    public const int UsageError = 2;

    public static async Task<int> RunAsync(string[] args, Func<string[], string?, Task<int>> runService)
    {
        var (words, overrides) = ConfigurationOverrides.Split(args);
        var context = new CommandContext(overrides);
        var root = Build(context, parse => runService(overrides, context.ConfigFile(parse)));
        var parse = root.Parse(words);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) await Console.Error.WriteLineAsync($"gateway: {error.Message}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync("gateway: see gateway --help").ConfigureAwait(false);
            return UsageError;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
    }

    /// <summary>The version and the commit it was built from, as <c>--version</c> prints them.</summary>
    public static string VersionText
    {
        get
        {
            var version = typeof(GatewayCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            var plus = version.IndexOf('+');
            return plus < 0 ? $"gateway {version} (commit unknown)" : $"gateway {version[..plus]} (commit {version[(plus + 1)..]})";
        }
    }

    private static RootCommand Build(CommandContext context, Func<ParseResult, Task<int>> runService)
    {
        var root = new RootCommand("The edge gateway: MQTT and STOMP in, a local store, forwarded to RabbitMQ or ActiveMQ. "
                                   + "With no command it runs the service; configuration overrides such as --Gateway:Mqtt:Port=1884 go to every command.");
        root.Options.Add(context.ConfigOption);
        foreach (var version in root.Options.OfType<VersionOption>()) version.Action = new PrintVersion();
        root.SetAction((parse, _) => runService(parse));

        var run = new Command("run", "Runs the gateway service (the same as no command).");
        run.SetAction((parse, _) => runService(parse));
        root.Subcommands.Add(run);
        root.Subcommands.Add(StatusCommandLine.Create(context));
        root.Subcommands.Add(BacklogCommands.Create(context));
        root.Subcommands.Add(ConfigCommands.Create(context));
        root.Subcommands.Add(PasswdCommandLine());
        return root;
    }

    /// <summary><c>gateway passwd [-D] FILE USER</c>: adds, replaces or deletes a user (<see cref="Security.PasswdCommand"/>).</summary>
    private static Command PasswdCommandLine()
    {
        var delete = new Option<bool>("-D", "--delete") { Description = "Delete USER instead of setting a password." };
        var file = new Argument<string>("FILE") { Description = "The password file (Gateway:Auth:PasswordFile); made 0600 if new." };
        var user = new Argument<string>("USER") { Description = "The user; the password is read from standard input, or asked for twice on a terminal." };
        var passwd = new Command("passwd", "Adds or replaces a user's password in the password file, or deletes the user (-D).") { delete, file, user };
        passwd.SetAction(parse =>
        {
            var (f, u) = (parse.GetValue(file)!, parse.GetValue(user)!);
            return Security.PasswdCommand.RunFromConsole(parse.GetValue(delete) ? ["-D", f, u] : [f, u]);
        });
        return passwd;
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.Out.WriteLine(VersionText);
            return 0;
        }
    }
}
