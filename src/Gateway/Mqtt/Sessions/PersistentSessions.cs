using System.Collections.Concurrent;
using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace Gateway.Mqtt.Sessions;

/// <summary>
/// Makes MQTTnet's persistent sessions survive a restart, through its public events only: every
/// persistent session's subscriptions and unacknowledged QoS 1/2 messages are kept in
/// <see cref="MqttStateStore"/>; after a restart the sessions read back are <see cref="SessionPresence.Dormant"/>
/// (MQTTnet cannot be given a session for a client that is not connected) and the gateway queues their
/// messages itself until their client resumes, when they are handed to MQTTnet's new session.
/// </summary>
/// <remarks>
/// MQTT 5 section 4.1: the server's session state is the session's existence, its subscriptions, and the
/// QoS 1/2 messages queued for it or sent and not yet acknowledged. A session persists when an MQTT 3.1.1
/// client connects with clean session 0 (MQTT-3.1.2-4) or an MQTT 5 client with a session expiry interval
/// above 0 (MQTT-3.1.2-23).
/// </remarks>
internal sealed partial class PersistentSessions(
    MqttStateStore store,
    GatewayOptions options,
    GatewayMetrics metrics,
    ILogger<PersistentSessions> logger)
{
    /// <summary>CONNECT's flags, from validation to CONNACK and the connected event, which do not see them; by connection endpoint.</summary>
    private readonly ConcurrentDictionary<EndPoint, ConnectIntent> _connecting = new();

    private readonly CancellationTokenSource _stopping = new();
    private Task _expiry = Task.CompletedTask;

    private int Bound => options.Mqtt.MaxPendingMessagesPerClient;

    public MqttServer? Server { get; set; }

    /// <summary>Registers its handlers; after the ingest's, so a publish's final <c>ProcessPublish</c> is seen.</summary>
    public void Attach(MqttServer server)
    {
        Server = server;
        store.Open();
        lock (store.Gate)
        {
            foreach (var kept in store.State.Sessions.Values.ToList())
            {
                // With persistent sessions turned off, those kept from before end now (MQTTnet keeps none either).
                if (!options.Mqtt.PersistentSessions) store.Record(new StateRecord(StateRecordKind.SessionDeleted, kept.ClientId));
                else kept.Presence = SessionPresence.Dormant;
            }
            metrics.Gauge("mqtt_sessions_kept", "", () => SessionCount());
            metrics.Gauge("mqtt_session_messages_kept", "", () => QueuedCount());
        }
        server.ValidatingConnectionAsync += OnValidatingAsync;
        server.InterceptingOutboundPacketAsync += OnOutboundPacketAsync;
        server.ClientConnectedAsync += OnClientConnectedAsync;
        server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        server.ClientSubscribedTopicAsync += OnSubscribedAsync;
        server.ClientUnsubscribedTopicAsync += OnUnsubscribedAsync;
        server.InterceptingPublishAsync += OnPublishAsync;
        server.InterceptingClientEnqueueAsync += OnEnqueueAsync;
        server.InterceptingInboundPacketAsync += OnInboundPacketAsync;
        _expiry = RunExpiryAsync(_stopping.Token);
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _expiry.ConfigureAwait(false);
    }

    /// <summary>Completes once every session change recorded so far is on disk: a publisher's ack waits for it.</summary>
    public Task WhenDurableAsync() => store.WhenDurableAsync();

    private Task OnValidatingAsync(ValidatingConnectionEventArgs e)
    {
        _connecting[e.RemoteEndPoint] = new ConnectIntent(e.CleanSession ?? true, e.SessionExpiryInterval, e.ProtocolVersion, DateTimeOffset.UtcNow);
        return Task.CompletedTask;
    }

    /// <summary>
    /// CONNACK: a clean start ends a kept session (MQTT-3.1.2-4); resuming one the gateway kept across a
    /// restart answers Session Present 1 (MQTT-3.2.2-2), which MQTTnet cannot know, its session being new.
    /// </summary>
    private Task OnConnAckAsync(InterceptingPacketEventArgs e, MqttConnAckPacket connAck)
    {
        if (!_connecting.TryGetValue(e.RemoteEndPoint, out var intent)) return Task.CompletedTask;
        lock (store.Gate)
        {
            if (!store.State.Sessions.TryGetValue(e.ClientId, out var kept)) return Task.CompletedTask;
            if (intent.CleanStart)
            {
                store.Record(new StateRecord(StateRecordKind.SessionDeleted, e.ClientId));
                return Task.CompletedTask;
            }
            kept.Connected = true;
            kept.ForgetSent();
            if (kept.Presence == SessionPresence.Dormant)
            {
                connAck.IsSessionPresent = true;
                intent.Resumes = true;
            }
        }
        return Task.CompletedTask;
    }

    private async Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        if (!_connecting.TryRemove(e.RemoteEndPoint, out var intent)) return;
        var persistent = options.Mqtt.PersistentSessions && (e.ProtocolVersion == MqttProtocolVersion.V500 ? intent.ExpiryInterval > 0 : !intent.CleanStart);
        var expiry = e.ProtocolVersion == MqttProtocolVersion.V500 ? intent.ExpiryInterval : KeptSession.NeverExpires;
        KeptSession? resumed = null;
        lock (store.Gate)
        {
            store.State.Sessions.TryGetValue(e.ClientId, out var kept);
            if (intent.Resumes && kept is { Presence: SessionPresence.Dormant }) resumed = kept;
            if (persistent)
            {
                store.Record(new StateRecord(StateRecordKind.SessionOpened, e.ClientId, Interval: expiry));
                kept = store.State.Sessions[e.ClientId];
                kept.Connected = true;
                kept.DisconnectedAt = null;
                if (resumed is null) kept.Presence = SessionPresence.Live;
            }
        }
        // The client's packets are read only once this returns: its session is whole before its first SUBSCRIBE.
        if (resumed is not null) await RestoreAsync(resumed, keep: persistent).ConfigureAwait(false);
        else if (!persistent) ForgetKept(e.ClientId);
    }

    /// <summary>A session that does not persist is not kept either (an MQTT 5 client resuming with expiry 0: MQTT-3.1.2-23).</summary>
    private void ForgetKept(string clientId)
    {
        lock (store.Gate)
        {
            if (store.State.Sessions.ContainsKey(clientId)) store.Record(new StateRecord(StateRecordKind.SessionDeleted, clientId));
        }
    }

    /// <summary>
    /// Hands a session kept across a restart to MQTTnet's new session for its client: its subscriptions,
    /// then its messages in order, the time left on their expiry (MQTT-3.3.2-6); expired ones are dropped (MQTT-3.3.2-5).
    /// </summary>
    private async Task RestoreAsync(KeptSession kept, bool keep)
    {
        var server = Server!;
        var status = (await server.GetSessionsAsync().ConfigureAwait(false)).FirstOrDefault(s => s.Id == kept.ClientId);
        if (status is null) return; // gone again already
        List<MqttTopicFilter> filters;
        lock (store.Gate) filters = kept.Subscriptions.Values.Select(s => s.ToRestoredFilter()).ToList();
        if (filters.Count > 0) await server.SubscribeAsync(kept.ClientId, filters).ConfigureAwait(false);
        int sent = 0, expired = 0;
        lock (store.Gate)
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var message in kept.Queue.Values.ToList())
            {
                if (message.HasExpired(now))
                {
                    store.Record(new StateRecord(StateRecordKind.Removed, kept.ClientId, Number: message.Seq));
                    expired++;
                }
                else if (status.TryEnqueueApplicationMessage(message.ToApplicationMessage(now), out _)) sent++;
            }
            // From here MQTTnet queues for it and the gateway records what it queues.
            kept.Presence = SessionPresence.Live;
            kept.DropLogged = false;
        }
        metrics.Increment("mqtt_sessions_restored_total");
        LogRestored(kept.ClientId, filters.Count, sent, expired);
        if (!keep) ForgetKept(kept.ClientId);
    }

    private int SessionCount()
    {
        lock (store.Gate) return store.State.Sessions.Count;
    }

    private int QueuedCount()
    {
        lock (store.Gate) return store.State.Sessions.Values.Sum(s => s.Queue.Count);
    }

    /// <summary>What CONNECT asked for, and whether CONNACK told the client its kept session is present.</summary>
    private sealed class ConnectIntent(bool cleanStart, uint expiryInterval, MqttProtocolVersion version, DateTimeOffset at)
    {
        public bool CleanStart { get; } = cleanStart;
        public uint ExpiryInterval { get; } = expiryInterval;
        public MqttProtocolVersion Version { get; } = version;
        public DateTimeOffset At { get; } = at;
        public bool Resumes { get; set; }
    }

    [LoggerMessage(EventIds.MqttSessionRestored, LogLevel.Information, "MQTT session of {ClientId} restored from before the restart: {Subscriptions} subscriptions, {Messages} queued messages ({Expired} expired ones dropped)")]
    private partial void LogRestored(string clientId, int subscriptions, int messages, int expired);
}
