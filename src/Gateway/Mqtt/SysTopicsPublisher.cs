using System.Globalization;
using System.Reflection;
using System.Text;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Hosting;
using Gateway.Storage.LiteDb;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Publishes the gateway's state as retained <c>$SYS/gateway/...</c> topics every
/// <see cref="MqttListenerOptions.SysTopicsInterval"/>, read from what <c>/metrics</c> shows. Local only:
/// handed straight to MQTTnet, so never stored in the outbox, never forwarded, never written to the
/// retained-message file (<see cref="RetainedMessageStore"/> skips <c>$</c> topics).
/// </summary>
/// <remarks>
/// Topics starting with <c>$</c> are the server's (MQTT 5.0 4.7.2): the publish interceptor lets one pass
/// only when it comes from here (<see cref="OnPublishAsync"/>); clients publishing to them are refused
/// in <see cref="MqttIngest"/>. Wildcards at the first level never match them (MQTT-4.7.2-1), which
/// MQTTnet's <see cref="MqttTopicFilterComparer"/> already keeps to.
/// </remarks>
internal sealed partial class SysTopicsPublisher(
    GatewayOptions options,
    MqttListenerService listener,
    LiteDbOutbox outbox,
    ForwardingService forwarding,
    OldestWaiting oldestWaiting,
    GatewayMetrics metrics,
    ILogger<SysTopicsPublisher> logger) : IHostedService, IDisposable
{
    public const string Root = "$SYS/gateway/";

    private const string PublisherItem = "gateway.sys";

    /// <summary>Marks this publisher's messages, as <see cref="MqttListenerService.InjectedItem"/> marks stored ones (which the ingest then lets pass).</summary>
    private static readonly System.Collections.IDictionary PublisherItems = new System.Collections.ObjectModel.ReadOnlyDictionary<object, object>(
        new Dictionary<object, object> { [MqttListenerService.InjectedItem] = true, [PublisherItem] = true });

    private static readonly string Version =
        typeof(SysTopicsPublisher).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(SysTopicsPublisher).Assembly.GetName().Version?.ToString() ?? "unknown";

    private readonly CancellationTokenSource _stopping = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private Task _running = Task.CompletedTask;

    /// <summary>A <c>$</c> topic reaches subscribers only when this publisher sent it: a STOMP SEND to one, say, does not.</summary>
    public static Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.ApplicationMessage.Topic is ['$', ..] && !e.SessionItems.Contains(PublisherItem)) e.ProcessPublish = false;
        return Task.CompletedTask;
    }

    /// <summary>Whether a client may not publish to <paramref name="topic"/>: the server's own (MQTT 5.0 4.7.2).</summary>
    public static bool IsReserved(string topic) => topic.StartsWith('$');

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var interval = options.Mqtt.SysTopicsInterval;
        if (interval > TimeSpan.Zero) _running = Task.Run(() => RunAsync(interval, _stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(false);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(TimeSpan interval, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await PublishAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The state is shown again at the next tick; a failing one must not stop the others.
                metrics.Increment("sys_topics_failures_total");
                LogFailed(ex.Message);
            }
        }
        while (await WaitAsync(timer, stopping).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task PublishAsync()
    {
        if (listener.Server is not { IsStarted: true } server) return;
        foreach (var (topic, value) in await ReadStateAsync(server).ConfigureAwait(false))
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(Root + topic)
                .WithPayload(Encoding.UTF8.GetBytes(value))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce)
                .WithRetainFlag()
                .Build();
            await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { CustomSessionItems = PublisherItems }).ConfigureAwait(false);
        }
    }

    /// <summary>Each topic under <see cref="Root"/> with its value, as text.</summary>
    internal async Task<List<(string Topic, string Value)>> ReadStateAsync(MqttServer server)
    {
        var clients = await server.GetClientsAsync().ConfigureAwait(false);
        var forwarders = forwarding.Forwarders;
        long forwarded = 0;
        var state = new List<(string, string)>
        {
            ("uptime", Number((long)(DateTimeOffset.UtcNow - _started).TotalSeconds)),
            ("version", Version),
            ("connections/mqtt", Number(clients.Count)),
            ("connections/stomp", Number(metrics.Get("stomp_connections_open"))),
            ("messages/received/mqtt", Number(metrics.Get("mqtt_publishes_received_total"))),
            ("messages/received/stomp", Number(metrics.Get("stomp_sends_received_total"))),
            ("backlog/messages", Number(outbox.Count)),
            ("backlog/bytes", Number(outbox.Bytes)),
            ("backlog/age", Number(BacklogAgeSeconds())),
        };
        foreach (var f in forwarders)
        {
            var sent = metrics.Get("messages_forwarded_total", f.Upstream);
            forwarded += sent;
            state.Add(($"upstreams/{f.Upstream}/state", f.IsConnected ? "connected" : "disconnected"));
            state.Add(($"upstreams/{f.Upstream}/endpoint", f.CurrentEndpoint));
            state.Add(($"upstreams/{f.Upstream}/forwarded", Number(sent)));
        }
        state.Add(("messages/forwarded", Number(forwarded)));
        return state;
    }

    /// <summary>Seconds since the oldest message some upstream has not confirmed yet arrived; 0 with none.</summary>
    private long BacklogAgeSeconds() => (long)(oldestWaiting.Age()?.TotalSeconds ?? 0);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(EventIds.SysTopicsFailed, LogLevel.Warning, "The $SYS topics could not be published: {Cause}")]
    private partial void LogFailed(string cause);
}
