using System.Text.RegularExpressions;
using Gateway.Storage.LiteDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.IntegrationTests.GatewayUnderTest;

/// <summary>
/// The gateway in this test process, on free loopback ports and its own data folder, with the
/// outbox's fsync behind a gate the test holds: an ack that could leave before the commit is on disk
/// would arrive while the gate is shut. As with <see cref="GatewayProcess"/>, an error it logs that
/// the test did not declare with <see cref="ExpectErrors"/> fails the test at dispose.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private readonly ErrorLogCapture _errors;
    private readonly List<Regex> _expectedErrors = [];

    private InProcessGateway(WebApplication app, GatedDiskSync sync, ErrorLogCapture errors, string dataPath, int mqttPort, int httpPort, int stompPort)
    {
        App = app;
        Sync = sync;
        _errors = errors;
        DataPath = dataPath;
        MqttPort = mqttPort;
        HttpPort = httpPort;
        StompPort = stompPort;
    }

    public WebApplication App { get; }
    public GatedDiskSync Sync { get; }
    public string DataPath { get; }
    public int MqttPort { get; }
    public int HttpPort { get; }
    public int StompPort { get; }

    /// <summary>Declares the error lines this test provokes on purpose (regular expressions, as for <see cref="GatewayProcess.ExpectErrors"/>).</summary>
    public InProcessGateway ExpectErrors(params string[] patterns)
    {
        _expectedErrors.AddRange(patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant)));
        return this;
    }

    public void AssertNoUnexpectedErrors()
    {
        var unexpected = _errors.Lines.Where(l => !_expectedErrors.Any(p => p.IsMatch(l))).ToList();
        if (unexpected.Count > 0) throw new UnexpectedGatewayErrorsException("in-process", unexpected);
    }

    /// <param name="configure">Replaces more services after the gateway's own wiring and the gated sync.</param>
    public static async Task<InProcessGateway> StartAsync(Action<IServiceCollection>? configure = null)
    {
        var sync = new GatedDiskSync();
        var errors = new ErrorLogCapture();
        var dataPath = Directory.CreateTempSubdirectory("gateway-inproc-").FullName;
        int mqtt = FreePort.Next(), http = FreePort.Next(), stomp = FreePort.Next();
        var app = Program.Build(
            [$"--Gateway:Mqtt:Port={mqtt}", "--Gateway:Mqtt:BindAddress=127.0.0.1", $"--Gateway:Http:Port={http}", "--Gateway:Http:BindAddress=127.0.0.1",
             $"--Gateway:Stomp:Port={stomp}", "--Gateway:Stomp:BindAddress=127.0.0.1", $"--Gateway:DataPath={dataPath}", "--Gateway:Id=gw"],
            services =>
            {
                services.AddSingleton<IDiskSync>(sync).AddSingleton<ILoggerProvider>(errors);
                configure?.Invoke(services);
            });
        await app.StartAsync();
        return new InProcessGateway(app, sync, errors, dataPath, mqtt, http, stomp);
    }

    public async ValueTask DisposeAsync()
    {
        Sync.Open();
        await App.StopAsync();
        await App.DisposeAsync();
        Directory.Delete(DataPath, recursive: true);
        AssertNoUnexpectedErrors();
    }
}
