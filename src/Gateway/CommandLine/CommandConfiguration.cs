using Gateway.Configuration;

namespace Gateway.CommandLine;

/// <summary>
/// The configuration as the service reads it: <c>appsettings.json</c> beside the program, the
/// appliance file (<c>--config</c>, else GATEWAY_CONFIG, else <c>firmware-config/gateway.json</c>
/// beside the program), environment variables, then the overrides on the command line.
/// </summary>
public static class CommandConfiguration
{
    public const string ConfigVariable = "GATEWAY_CONFIG";

    /// <summary>The appliance file and whether the operator named it (then it must exist).</summary>
    public static (string Path, bool Named) ApplianceFile(string? configOption)
    {
        if (!string.IsNullOrEmpty(configOption)) return (Path.GetFullPath(configOption), true);
        if (Environment.GetEnvironmentVariable(ConfigVariable) is { Length: > 0 } named) return (Path.GetFullPath(named), true);
        return (Path.Combine(AppContext.BaseDirectory, "firmware-config", "gateway.json"), false);
    }

    /// <summary>Adds the appliance file, the environment and the overrides to a host's configuration.</summary>
    public static void AddSources(IConfigurationBuilder configuration, string applianceFile, string[] overrides)
    {
        configuration.AddJsonFile(applianceFile, optional: true);
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(overrides);
    }

    /// <summary>
    /// Every problem found before the options are bound (files, sections, log levels), each one line;
    /// the configuration is null when a file cannot be read.
    /// </summary>
    public static (IConfigurationRoot? Configuration, List<string> Problems) Read(string? configOption, string[] overrides)
    {
        var (appliance, named) = ApplianceFile(configOption);
        var settings = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        var problems = new[] { ConfigurationChecks.CheckFile(settings, named: false), ConfigurationChecks.CheckFile(appliance, named) }
            .OfType<string>().ToList();
        if (problems.Count > 0) return (null, problems);
        var builder = new ConfigurationBuilder().AddJsonFile(settings, optional: true);
        AddSources(builder, appliance, overrides);
        var configuration = builder.Build();
        problems.AddRange(ConfigurationChecks.CheckKeys(configuration));
        return (configuration, problems);
    }

    /// <summary>Every problem in the whole configuration, the options' own checks included, each one line.</summary>
    public static (GatewayOptions? Options, List<string> Problems) Check(string? configOption, string[] overrides)
    {
        var (configuration, problems) = Read(configOption, overrides);
        if (configuration is null) return (null, problems);
        var (options, invalid) = GatewayConfiguration.LoadChecked(configuration);
        problems.AddRange(invalid);
        return (problems.Count == 0 ? options : null, problems);
    }
}
