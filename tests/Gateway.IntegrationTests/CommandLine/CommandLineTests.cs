using System.Diagnostics;
using System.Text.Json;

namespace Gateway.IntegrationTests.CommandLine;

/// <summary>
/// The <c>gateway</c> command line without a broker: help, version, words it does not know, and
/// configuration errors, each checked to start nothing (no data folder made, the program ends).
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-cli-").FullName;

    /// <summary>A gateway's configuration on free ports, with a data folder that does not exist yet.</summary>
    private readonly Dictionary<string, string> _settings;

    public CommandLineTests()
    {
        _settings = new Dictionary<string, string>
        {
            ["Gateway__DataPath"] = DataPath,
            ["Gateway__Mqtt__Port"] = FreePort.Next().ToString(),
            ["Gateway__Mqtt__BindAddress"] = "127.0.0.1",
            ["Gateway__Http__Port"] = FreePort.Next().ToString(),
            ["Gateway__Http__BindAddress"] = "127.0.0.1",
            ["Gateway__Stomp__Port"] = "0",
        };
    }

    private string DataPath => Path.Combine(_folder, "data");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<string> Commands => new() { "", "run", "status", "backlog", "backlog list", "backlog show", "backlog purge", "backlog export", "config", "config check" };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Every_command_has_help_and_showing_it_starts_nothing(string command)
    {
        var result = await GatewayCli.RunAsync(_settings, [.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"gateway {command}".Trim(), result.Stdout);
        Assert.Contains("Usage:", result.Stdout);
        Assert.False(Directory.Exists(DataPath));
    }

    [Fact]
    public async Task Version_names_the_version_and_the_commit()
    {
        var result = await GatewayCli.RunAsync(_settings, "--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^gateway \d+\.\d+\.\d+\S* \(commit [0-9a-f]{7,40}\)$", result.Stdout.Trim());
        Assert.False(Directory.Exists(DataPath));
    }

    [Theory]
    [InlineData("statuss")]
    [InlineData("--bogus")]
    [InlineData("run --bogus")]
    [InlineData("backlog frobnicate")]
    [InlineData("backlog list --nope")]
    [InlineData("backlog show notanumber")]
    [InlineData("backlog purge")]
    [InlineData("backlog purge --older-than soon --yes")]
    public async Task Unknown_commands_and_options_are_errors_with_exit_2_and_start_nothing(string args)
    {
        var result = await GatewayCli.RunAsync(_settings, args.Split(' '));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("gateway: ", result.Stderr);
        Assert.Empty(result.Stdout);
        Assert.False(Directory.Exists(DataPath), "a data folder was made: the gateway started");
    }

    public static TheoryData<string, string[], string> ConfigurationErrors => new()
    {
        { "misspelt section", ["--Gatway:Mqtt:Port=1"], "unknown section Gatway (did you mean Gateway?" },
        { "misspelt logging", ["--Loging:LogLevel:Default=Debug"], "unknown section Loging (did you mean Logging?" },
        { "unknown log level", ["--Logging:LogLevel:Default=Verbose"], "Logging:LogLevel:Default has an unknown log level 'Verbose'" },
        { "unknown provider log level", ["--Logging:Console:LogLevel:Gateway=Loud"], "Logging:Console:LogLevel:Gateway has an unknown log level 'Loud'" },
        { "unknown key", ["--Gateway:Mqtt:Prot=1884"], "unknown setting Gateway:Mqtt:Prot" },
        { "bad value", ["--Gateway:Mqtt:Port=seventy"], "Gateway:Mqtt:Port" },
    };

    [Theory]
    [MemberData(nameof(ConfigurationErrors))]
    public async Task Config_check_and_the_service_refuse_each_configuration_error_in_one_line_with_exit_2(string name, string[] overrides, string expected)
    {
        string[][] commands = [["config", "check"], [], ["run"]];
        foreach (var command in commands)
        {
            var result = await GatewayCli.RunAsync(_settings, [.. command, .. overrides]);

            Assert.True(result.ExitCode == 2, $"{name}, gateway {string.Join(' ', command)}: {result}");
            var line = Assert.Single(result.StderrLines);
            Assert.StartsWith("gateway: configuration error: ", line);
            Assert.Contains(expected, line);
            Assert.False(Directory.Exists(DataPath), $"{name}: the gateway started");
        }
    }

    [Fact]
    public async Task A_JSON_syntax_error_is_named_with_its_file_line_and_column()
    {
        var file = Path.Combine(_folder, "gateway.json");
        await File.WriteAllTextAsync(file, "{\n  \"Gateway\": {\n    \"Id\": \"board-7\"\n    \"DataPath\": \"/var/lib/x\"\n  }\n}\n");

        var check = await GatewayCli.RunAsync(_settings, "config", "check", file);
        var service = await GatewayCli.RunAsync(new Dictionary<string, string>(_settings) { ["GATEWAY_CONFIG"] = file });
        var option = await GatewayCli.RunAsync(_settings, "run", "--config", file);

        foreach (var result in new[] { check, service, option })
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            var line = Assert.Single(result.StderrLines);
            Assert.StartsWith($"gateway: configuration error: {file}:4:5: JSON syntax error", line); // the missing comma before "DataPath"
        }
        Assert.False(Directory.Exists(DataPath));
    }

    [Fact]
    public async Task A_named_configuration_file_that_is_missing_is_an_error_not_a_start_on_defaults()
    {
        var missing = Path.Combine(_folder, "nowhere.json");

        var check = await GatewayCli.RunAsync(_settings, "config", "check", missing);
        var service = await GatewayCli.RunAsync(new Dictionary<string, string>(_settings) { ["GATEWAY_CONFIG"] = missing });
        var option = await GatewayCli.RunAsync(_settings, "--config", missing);

        foreach (var result in new[] { check, service, option })
        {
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Equal($"gateway: configuration error: {missing}: the configuration file does not exist", Assert.Single(result.StderrLines));
        }
        Assert.False(Directory.Exists(DataPath));
    }

    [Fact]
    public async Task Config_check_passes_a_good_file_with_the_host_s_own_sections_and_starts_nothing()
    {
        var file = Path.Combine(_folder, "gateway.json");
        await File.WriteAllTextAsync(file, """
            {
              // comments and trailing commas, as the configuration's JSON reader takes them
              "Logging": { "LogLevel": { "Default": "Warning" }, "Console": { "FormatterName": "json" } },
              "Kestrel": { "Limits": { "MaxConcurrentConnections": 100 } },
              "Gateway": {
                "Id": "board-7",
                "Upstreams": { "cloud": { "Endpoints": [ "amqp://guest:guest@127.0.0.1:5672/" ] } },
                "Routes": [ { "Filter": "sensors/#", "Upstream": "cloud" }, ],
              },
            }
            """);

        var result = await GatewayCli.RunAsync(_settings, "config", "check", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"{file}: the configuration is valid (gateway board-7, 1 upstreams, 1 routes, data in {DataPath})", result.Stdout.Trim());
        Assert.False(Directory.Exists(DataPath));
    }

    [Fact]
    public async Task Run_takes_configuration_overrides_and_its_JSON_log_lines_parse_with_an_offset_timestamp()
    {
        var mqtt = FreePort.Next();
        var start = new ProcessStartInfo("dotnet", [GatewayProcess.GatewayDll, "run", $"--Gateway:Mqtt:Port={mqtt}", "--Logging:Console:FormatterName", "json"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in _settings) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        try
        {
            await Poll.UntilAsync(async () => lines.Any(l => l.Contains("Application started")) && await FreePort.AcceptsAsync(mqtt),
                Patience.Startup, $"the gateway to start on MQTT port {mqtt} (the override)");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var timestamp = json.RootElement.GetProperty("Timestamp").GetString()!;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", timestamp);
            Assert.InRange(DateTimeOffset.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.Now.AddMinutes(-5), DateTimeOffset.Now.AddMinutes(1));
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("Message").GetString()));
        }
        Assert.Contains(lines, l => l.Contains($"MQTT listening on 127.0.0.1:{mqtt}"));
    }
}
