using System.CommandLine;

namespace Gateway.CommandLine;

/// <summary><c>gateway config check [FILE]</c>: the whole configuration checked, nothing started.</summary>
internal static class ConfigCommands
{
    public static Command Create(CommandContext context)
    {
        var file = new Argument<string?>("file")
        {
            Description = "The configuration file to check (default: --config, GATEWAY_CONFIG, or firmware-config/gateway.json beside the program).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var check = new Command("check", "Checks the configuration as the service would read it, without starting anything, and prints each problem.") { file };
        check.SetAction(parse =>
        {
            var named = parse.GetValue(file) ?? context.ConfigFile(parse);
            var (options, problems) = CommandConfiguration.Check(named, context.Overrides);
            if (options is null) return CommandContext.ConfigurationError(problems);
            var (path, _) = CommandConfiguration.ApplianceFile(named);
            Console.Out.WriteLine($"{path}: the configuration is valid (gateway {options.Id}, {options.Upstreams.Count} upstreams, {options.Routes.Count} routes, data in {options.DataPath})");
            return 0;
        });
        var config = new Command("config", "The configuration: check it.");
        config.Subcommands.Add(check);
        return config;
    }
}
