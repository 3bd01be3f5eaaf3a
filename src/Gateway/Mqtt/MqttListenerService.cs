using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>Runs the MQTTnet server: awaits its start (a port in use stops the host, with the cause), stops it on shutdown.</summary>
internal sealed partial class MqttListenerService(
    GatewayOptions options,
    MqttIngest ingest,
    RetainedMessageStore retained,
    ILogger<MqttListenerService> logger) : IHostedService, IDisposable
{
    private MqttServer? _server;

    public MqttServer Server => _server ?? throw new InvalidOperationException("the MQTT listener has not started");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var mqtt = options.Mqtt;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(mqtt.BindAddress))
            .WithDefaultEndpointPort(mqtt.Port)
            .WithPersistentSessions(mqtt.PersistentSessions)
            .WithMaxPendingMessagesPerClient(mqtt.MaxPendingMessagesPerClient)
            .Build();

        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.ValidatingConnectionAsync += ingest.OnValidatingConnectionAsync;
        _server.InterceptingPublishAsync += ingest.OnPublishAsync;
        _server.LoadingRetainedMessageAsync += retained.OnLoadingAsync;
        _server.RetainedMessageChangedAsync += retained.OnChangedAsync;
        _server.RetainedMessagesClearedAsync += retained.OnClearedAsync;

        await _server.StartAsync().ConfigureAwait(false);
        LogListening(mqtt.BindAddress, mqtt.Port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true }) await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
    }

    public void Dispose() => _server?.Dispose();

    [LoggerMessage(EventIds.MqttListening, LogLevel.Information, "MQTT listening on {Address}:{Port} (MQTT 3.1.1 and 5.0)")]
    private partial void LogListening(string address, int port);
}
