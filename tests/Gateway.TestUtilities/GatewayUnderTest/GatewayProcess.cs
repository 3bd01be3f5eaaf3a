using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gateway.TestUtilities;

/// <summary>
/// The real gateway as a child process (<c>dotnet gateway.dll</c>) on free ports and its own data
/// folder, configured by environment variables exactly as an operator would. It can be stopped
/// gracefully (SIGTERM), killed (SIGKILL) and started again on the same data. Any line it logs at
/// error or critical level fails the test when the process is disposed, unless the test declared it
/// with <see cref="ExpectErrors"/>: a gateway that quietly logs failures while the assertions pass
/// is not a passing gateway.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Dictionary<string, string> _settings;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<Regex> _expectedErrors = [];
    private readonly bool _ownsDataPath;
    private Process? _process;

    public GatewayProcess(IReadOnlyDictionary<string, string>? settings = null, string? dataPath = null, string id = "gw")
    {
        _ownsDataPath = dataPath is null;
        DataPath = dataPath ?? Directory.CreateTempSubdirectory("gateway-data-").FullName;
        MqttPort = FreePort.Next();
        HttpPort = FreePort.Next();
        StompPort = FreePort.Next();
        Id = id;
        _settings = new Dictionary<string, string>
        {
            ["Gateway__Id"] = id,
            ["Gateway__DataPath"] = DataPath,
            ["Gateway__Mqtt__Port"] = MqttPort.ToString(),
            ["Gateway__Mqtt__BindAddress"] = "127.0.0.1",
            ["Gateway__Http__Port"] = HttpPort.ToString(),
            ["Gateway__Http__BindAddress"] = "127.0.0.1",
            ["Gateway__Stomp__Port"] = StompPort.ToString(),
            ["Gateway__Stomp__BindAddress"] = "127.0.0.1",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) _settings[key] = value;
    }

    public string Id { get; }

    /// <summary>The configuration it runs with, as environment variables (the command line finds it with them).</summary>
    public IReadOnlyDictionary<string, string> Settings => _settings;

    public string DataPath { get; }
    public int MqttPort { get; }
    public int HttpPort { get; }
    public int StompPort { get; }

    /// <summary>Every listener's port a test configured and did not set to 0 (plain and TLS ones).</summary>
    private List<int> ListeningPorts =>
        _settings.Where(s => s.Key.StartsWith("Gateway__", StringComparison.Ordinal) && s.Key.EndsWith("Port", StringComparison.Ordinal))
            .Select(s => int.TryParse(s.Value, out var port) ? port : 0).Where(port => port > 0).ToList();
    /// <summary>The running gateway's process id (for reading its memory from /proc).</summary>
    public int ProcessId => _process is { HasExited: false } p ? p.Id : throw new InvalidOperationException("the gateway is not running");

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>Everything the gateway printed so far, across restarts.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Lines the gateway logged at error or critical level (the console logger's "fail:" and "crit:").</summary>
    public IReadOnlyList<string> ErrorLines => _output.Where(l => l.Contains(" fail: ") || l.Contains(" crit: ")).ToList();

    /// <summary>Error lines no <see cref="ExpectErrors"/> pattern matches.</summary>
    public IReadOnlyList<string> UnexpectedErrorLines => ErrorLines.Where(l => !_expectedErrors.Any(p => p.IsMatch(l))).ToList();

    /// <summary>
    /// Declares the error lines this test provokes on purpose (a broker down, a TLS failure, a full
    /// disk): each pattern is a regular expression matched against a whole <c>fail:</c>/<c>crit:</c> line.
    /// </summary>
    public GatewayProcess ExpectErrors(params string[] patterns)
    {
        _expectedErrors.AddRange(patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant)));
        return this;
    }

    /// <summary>Fails with the lines themselves if the gateway logged an error the test did not expect.</summary>
    public void AssertNoUnexpectedErrors()
    {
        var unexpected = UnexpectedErrorLines;
        if (unexpected.Count > 0) throw new UnexpectedGatewayErrorsException(Id, unexpected);
    }

    /// <summary>The gateway as built for these tests: the project reference copies it, with its runtime config, beside them.</summary>
    public static string GatewayDll
    {
        get
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "gateway.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"the gateway was not built beside the tests: {dll} is missing");
            return dll;
        }
    }

    /// <summary>Starts the process and waits until every port it was given (MQTT, HTTP, STOMP, TLS ones; not 0) accepts connections.</summary>
    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet", [GatewayDll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = DataPath,
        };
        foreach (var (key, value) in _settings) start.Environment[key] = value;
        start.Environment["Logging__Console__FormatterName"] = "simple";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the gateway");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        await Poll.UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"the gateway exited with {process.ExitCode}:\n{Output}");
            // Every listener, STOMP's too: Kestrel binds its endpoints one after the other, and a test
            // connecting to STOMP the moment HTTP accepted was once refused.
            foreach (var port in ListeningPorts)
            {
                if (!await FreePort.AcceptsAsync(port)) return false;
            }
            return true;
        }, Patience.Startup, $"gateway ports {string.Join(", ", ListeningPorts)} to accept connections");
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process) return;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as systemd stops it; waits for a clean exit.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process is not { HasExited: false } process) return;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill!.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token);
    }

    public async Task<string> GetAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}") };
        return await http.GetStringAsync(path);
    }

    /// <summary>A GET whatever its status (<c>/healthz</c> and <c>/readyz</c> answer 503 with a body).</summary>
    public async Task<(int Status, string Body)> GetWithStatusAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}") };
        using var response = await http.GetAsync(path);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// A metric's value from /metrics (<c>gateway_</c> + <paramref name="name"/>), or 0 when it is not
    /// there; <paramref name="label"/> is the value of its one label, whatever the label's name
    /// (<c>upstream</c>, <c>route</c>, <c>protocol</c>, <c>reason</c>).
    /// </summary>
    public async Task<double> MetricAsync(string name, string label = "")
    {
        var line = (await GetAsync("/metrics")).Split('\n').FirstOrDefault(l => IsSample(l, "gateway_" + name, label));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static bool IsSample(string line, string metric, string label)
    {
        if (!line.StartsWith(metric, StringComparison.Ordinal)) return false;
        var rest = line.AsSpan(metric.Length);
        if (label.Length == 0) return rest.StartsWith(" ");
        var equals = rest.IndexOf('=');
        return rest.StartsWith("{") && equals > 0 && rest[(equals + 1)..].StartsWith($"\"{label}\"}} ");
    }

    /// <summary>Kills the process, deletes a data folder it created, then checks its error lines.</summary>
    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        if (_ownsDataPath)
        {
            try { Directory.Delete(DataPath, recursive: true); } catch (IOException) { }
        }
        AssertNoUnexpectedErrors();
    }
}
