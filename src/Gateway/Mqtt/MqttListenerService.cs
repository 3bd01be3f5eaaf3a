using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Limits;
using Gateway.Mqtt.Sessions;
using Gateway.Security;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Runs the MQTTnet server, one server for MQTT over TCP and over WebSocket (<c>/mqtt</c>, through
/// <see cref="WebSockets"/>): awaits its start (a port in use stops the host, with the cause), stops it on shutdown.
/// </summary>
internal sealed partial class MqttListenerService(
    GatewayOptions options,
    MqttIngest ingest,
    MqttOutbound outbound,
    RetainedMessageStore retained,
    WillDelays wills,
    SharedSubscriptions shared,
    PersistentSessions sessions,
    GatewayMetrics metrics,
    Security.MqttLogin login,
    MqttLimits limits,
    MqttAuthorisation authorisation,
    ILogger<MqttListenerService> logger,
    ServerCertificate? certificate = null) : IHostedService, IDisposable
{
    /// <summary>Marks a message the gateway injected (a STOMP SEND already stored): the publish interceptor lets it pass.</summary>
    internal const string InjectedItem = "gateway.injected";

    private readonly MqttPacketLimits _limits = MqttPacketLimits.From(options);

    /// <summary>Where the <c>/mqtt</c> WebSocket endpoint hands its connections to the server.</summary>
    public MqttWebSocketTransport WebSockets { get; } = new(MqttPacketLimits.From(options), MqttConnectPolicy.From(options), new ConnectionCount(metrics, "mqtt-ws"), limits, logger);

    private MqttServer? _server;
    private readonly List<MqttTcpTransport> _tcp = [];

    /// <summary>The server started and its TCP listener accepting (<c>/healthz</c>); cheap: two flags.</summary>
    public bool Listening => _server is { IsStarted: true } && _tcp.TrueForAll(t => t.Accepting);

    public MqttServer Server => _server ?? throw new InvalidOperationException("the MQTT listener has not started");

    /// <summary>The MQTT server has started and not stopped.</summary>
    public bool IsRunning => _server is { IsStarted: true };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var mqtt = options.Mqtt;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithPersistentSessions(mqtt.PersistentSessions)
            .WithMaxPendingMessagesPerClient(mqtt.MaxPendingMessagesPerClient)
            .Build();

        _server = new MqttServerFactory().CreateMqttServer(serverOptions, [.. TcpTransports(mqtt), WebSockets]);
        // First of the connection checks: the others skip a client it refused (a stranger using a known client id).
        _server.ValidatingConnectionAsync += login.OnValidatingConnectionAsync;
        _server.InterceptingOutboundPacketAsync += AdvertiseMaximumPacketSizeAsync;
        _server.InterceptingOutboundPacketAsync += MqttProtocolChecks.AnnounceTopicAliasMaximumAsync;
        _server.ClientConnectedAsync += ingest.OnClientConnectedAsync;
        _server.ValidatingConnectionAsync += wills.OnValidatingConnectionAsync;
        _server.ClientConnectedAsync += wills.OnClientConnectedAsync;
        _server.InterceptingInboundPacketAsync += ingest.OnInboundPacketAsync;
        _server.InterceptingPublishAsync += ingest.OnPublishAsync;
        _server.InterceptingOutboundPacketAsync += ingest.OnOutboundPacketAsync;
        _server.ValidatingConnectionAsync += outbound.OnValidatingConnectionAsync;
        _server.InterceptingPublishAsync += outbound.OnPublishAsync; // after ingest's: stamps only what MQTTnet delivers itself
        _server.InterceptingClientEnqueueAsync += outbound.OnEnqueueAsync;
        // After the expiry check (a message refused for that is not counted as an ACL refusal too), before
        // the persistent sessions' (which keep only what is accepted) and the share groups' subscription check.
        if (authorisation.IsEnabled)
        {
            authorisation.Register(_server);
            shared.MayReceive = authorisation.MayReceive;
        }
        // After the ACL's: a filter it refused is not counted against the session's subscriptions.
        _server.InterceptingSubscriptionAsync += limits.OnSubscribingAsync;
        _server.InterceptingUnsubscriptionAsync += limits.OnUnsubscribingAsync;
        _server.InterceptingInboundPacketAsync += outbound.OnInboundPacketAsync;
        ingest.Server = _server;
        // Before the share groups: a restored session's CONNACK says Session Present before they read it.
        ingest.Sessions = sessions;
        sessions.Attach(_server);
        // After the ingest's: only what it lets MQTTnet deliver goes to $ topics' and share groups' subscribers.
        _server.InterceptingPublishAsync += SysTopicsPublisher.OnPublishAsync;
        _server.InterceptingPublishAsync += shared.OnPublishAsync;
        shared.Register(_server);
        // Last of the outbound interceptors: a PUBLISH it defers past the client's Receive Maximum goes out
        // later through the channel adapter, past every interceptor, so the others must have seen it already.
        _server.InterceptingOutboundPacketAsync += outbound.OnOutboundPacketAsync;
        _server.LoadingRetainedMessageAsync += retained.OnLoadingAsync;
        _server.RetainedMessageChangedAsync += retained.OnChangedAsync;
        _server.RetainedMessagesClearedAsync += retained.OnClearedAsync;

        await _server.StartAsync().ConfigureAwait(false);
        if (mqtt.Port != 0) LogListening(mqtt.BindAddress, mqtt.Port);
        if (mqtt.TlsPort is > 0 and var tlsPort) LogListeningTls(mqtt.BindAddress, tlsPort);
    }

    /// <summary>The plain and the TLS listener, each unless its port is 0.</summary>
    private IEnumerable<IMqttServerAdapter> TcpTransports(MqttListenerOptions mqtt)
    {
        var address = IPAddress.Parse(mqtt.BindAddress);
        if (mqtt.Port != 0) yield return Kept(new MqttTcpTransport(address, mqtt.Port, _limits, MqttConnectPolicy.From(options), new ConnectionCount(metrics, "mqtt"), limits, logger));
        if (mqtt.TlsPort is > 0 and var tlsPort)
        {
            var tls = new TlsHandshake(certificate ?? throw new InvalidOperationException("Gateway:Mqtt:TlsPort without a certificate passed validation"), "mqtt", metrics, logger);
            yield return Kept(new MqttTcpTransport(address, tlsPort, _limits, MqttConnectPolicy.From(options), new ConnectionCount(metrics, "mqtt-tls"), limits, logger, tls));
        }
    }

    private MqttTcpTransport Kept(MqttTcpTransport transport)
    {
        _tcp.Add(transport);
        return transport;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        wills.ReleaseAllAtShutdown(); // held wills go into the outbox now, before it closes, rather than never
        if (_server is { IsStarted: true }) await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
        await wills.DrainAsync(cancellationToken).ConfigureAwait(false);
        await sessions.StopAsync().ConfigureAwait(false);
    }

    public void Dispose() => _server?.Dispose();

    /// <summary>
    /// MQTT 5's CONNACK tells the client the largest packet it may send (section 3.2.2.3.6), so a
    /// client can refuse an oversized publish itself; MQTT 3.1.1's CONNACK has no field for it.
    /// </summary>
    private Task AdvertiseMaximumPacketSizeAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck) connAck.MaximumPacketSize = (uint)_limits.MaxPacketBytes;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Delivers an already stored message (a STOMP SEND) to MQTT subscribers. It passes the publish
    /// interceptor untouched, so it is neither stored again nor offered to the local bus twice.
    /// </summary>
    public async Task InjectAsync(IncomingMessage message)
    {
        if (_server is not { IsStarted: true } server) return; // stopping: local delivery is best effort, the store has it
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(message.Topic)
            .WithPayload(message.Payload.ToArray())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (message.ContentType is not null) builder.WithContentType(message.ContentType);
        foreach (var (name, value) in message.UserProperties) builder.WithUserProperty(name, System.Text.Encoding.UTF8.GetBytes(value));
        await DeliverAsync(server, builder.Build(), message.ClientId, message.ReceivedAt).ConfigureAwait(false);
        await sessions.WhenDurableAsync().ConfigureAwait(false); // queued for a persistent session: on disk before the sender's receipt
    }

    /// <summary>Marks the session items of a message the gateway injects; read-only, so one serves them all.</summary>
    private static readonly System.Collections.IDictionary InjectedItems = new System.Collections.ObjectModel.ReadOnlyDictionary<object, object>(new Dictionary<object, object> { [InjectedItem] = true });

    /// <summary>
    /// Hands a stored message to MQTTnet for its MQTT subscribers (and retained messages), marked so
    /// the publish interceptor lets it pass; <paramref name="senderClientId"/> keeps MQTT 5's no-local working,
    /// <paramref name="receivedAt"/> its expiry counting from when it entered the gateway.
    /// </summary>
    internal static Task DeliverAsync(MqttServer server, MqttApplicationMessage application, string senderClientId, DateTimeOffset receivedAt)
    {
        MessageExpiry.Stamp(application, receivedAt);
        return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(application)
        {
            SenderClientId = senderClientId,
            CustomSessionItems = InjectedItems,
        });
    }

    [LoggerMessage(EventIds.MqttListening, LogLevel.Information, "MQTT listening on {Address}:{Port} (MQTT 3.1.1 and 5.0)")]
    private partial void LogListening(string address, int port);

    [LoggerMessage(EventIds.TlsListening, LogLevel.Information, "MQTT over TLS listening on {Address}:{Port} (TLS 1.2 and 1.3)")]
    private partial void LogListeningTls(string address, int port);
}
