using Gateway.Storage.LiteDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.IntegrationTests.GatewayUnderTest;

/// <summary>
/// The gateway in this test process, on free loopback ports and its own data folder, with the
/// outbox's fsync behind a gate the test holds: an ack that could leave before the commit is on disk
/// would arrive while the gate is shut.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private InProcessGateway(WebApplication app, GatedDiskSync sync, string dataPath, int mqttPort, int httpPort, int stompPort)
    {
        App = app;
        Sync = sync;
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

    public static async Task<InProcessGateway> StartAsync()
    {
        var sync = new GatedDiskSync();
        var dataPath = Directory.CreateTempSubdirectory("gateway-inproc-").FullName;
        int mqtt = FreePort.Next(), http = FreePort.Next(), stomp = FreePort.Next();
        var app = Program.Build(
            [$"--Gateway:Mqtt:Port={mqtt}", "--Gateway:Mqtt:BindAddress=127.0.0.1", $"--Gateway:Http:Port={http}", "--Gateway:Http:BindAddress=127.0.0.1",
             $"--Gateway:Stomp:Port={stomp}", "--Gateway:Stomp:BindAddress=127.0.0.1", $"--Gateway:DataPath={dataPath}", "--Gateway:Id=gw"],
            services => services.AddSingleton<IDiskSync>(sync));
        await app.StartAsync();
        return new InProcessGateway(app, sync, dataPath, mqtt, http, stomp);
    }

    public async ValueTask DisposeAsync()
    {
        Sync.Open();
        await App.StopAsync();
        await App.DisposeAsync();
        Directory.Delete(DataPath, recursive: true);
    }
}
