using System.Globalization;
using Gateway.Configuration;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Limits;
using Gateway.Mqtt;
using Gateway.Security;
using Gateway.Stomp.Server;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Stomp;

/// <summary>
/// Joins STOMP clients to the gateway: a SEND goes through the outbox like an MQTT publish, then to
/// local subscribers on both sides; a SUBSCRIBE becomes a subscriber of the local bus.
/// </summary>
/// <remarks>
/// Destinations are <c>/topic/&lt;dotted name&gt;</c>, mapped to MQTT topics by
/// <see cref="TopicMapping"/> (<c>/topic/a.b</c> ↔ <c>a/b</c>; in subscriptions <c>*</c> ↔ <c>+</c>,
/// <c>#</c> ↔ <c>#</c>), so a dashboard subscribed to <c>/topic/sensors.*.temp</c> sees MQTT
/// publishes to <c>sensors/line1/temp</c>.
/// </remarks>
internal sealed partial class StompBridge(
    IOutbox outbox,
    RouteTable routes,
    GatewayOptions options,
    StompServerOptions sessionOptions,
    LocalBus bus,
    MqttListenerService mqtt,
    GatewayMetrics metrics,
    Security.GatewayAuthenticator authenticator,
    StompSessionLimits limits,
    AccessControl access,
    ILogger<StompBridge> logger)
{
    public const string TopicPrefix = "/topic/";

    /// <summary>SEND headers that describe the frame itself; every other header travels with the message as a property.</summary>
    private static readonly HashSet<string> FrameHeaders = new(StringComparer.Ordinal)
    {
        "destination", "content-length", "content-type", "receipt", "transaction",
    };

    /// <summary>The last instant a DateTimeOffset holds, 9999-12-31, as ms since the epoch.</summary>
    private static readonly long LastExpiryMilliseconds = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StompSessionInfo> _open = new(StringComparer.Ordinal);
    private long _sessions;
    private readonly ConnectionCount _tcpConnections = new(metrics, "stomp"), _webSocketConnections = new(metrics, "stomp-ws");

    /// <summary>The sessions open now, for the status page.</summary>
    public IReadOnlyCollection<StompSessionInfo> OpenSessions => [.. _open.Values];

    /// <summary>Serves one connection until it ends, and logs how it ended.</summary>
    /// <param name="features">The connection's features, to bound its socket's send buffer (see <see cref="StompListenerOptions.SocketSendBufferBytes"/>).</param>
    /// <param name="source">The client's address, for the login check (loopback, the failed-login back-off).</param>
    public async Task RunSessionAsync(IStompTransport transport, string remote, System.Net.IPAddress? source, IFeatureCollection features, CancellationToken stopping)
    {
        if (options.Stomp.SocketSendBufferBytes > 0 && features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
            socket.SendBufferSize = options.Stomp.SocketSendBufferBytes;

        var id = "s" + Interlocked.Increment(ref _sessions).ToString(CultureInfo.InvariantCulture);
        var session = new StompServerSession(id, transport, new SessionBackend(this, id, source, limits.PacerFor($"STOMP session {id} from {remote}")), sessionOptions);
        metrics.Increment("stomp_connections_total");
        metrics.Increment("stomp_connections_open");
        _open[id] = new StompSessionInfo(id, remote, DateTimeOffset.UtcNow);
        using var counted = (transport is WebSocketStompTransport ? _webSocketConnections : _tcpConnections).Open();
        try
        {
            await session.RunAsync(stopping).ConfigureAwait(false);
        }
        finally
        {
            metrics.Increment("stomp_connections_open", by: -1);
            _open.TryRemove(id, out _);
            limits.CountEnding(session.CloseKind, session.CloseReason, $"STOMP session {id} from {remote}");
            switch (session.CloseKind)
            {
                case StompCloseKind.ClientClosed or StompCloseKind.ConnectionLost or null:
                    LogClosed(id, remote, session.CloseReason ?? "closed");
                    break;
                case StompCloseKind.InternalError:
                    LogFault(session.Fault, id, remote);
                    break;
                default:
                    metrics.Increment("stomp_disconnects_total", session.CloseKind.Value.ToString());
                    LogDisconnected(id, remote, session.CloseKind.Value, session.CloseReason ?? "");
                    break;
            }
        }
    }

    /// <summary>The MQTT topic a SEND destination names, or why it names none.</summary>
    internal static string TopicOf(string destination)
    {
        if (!destination.StartsWith(TopicPrefix, StringComparison.Ordinal) || destination.Length == TopicPrefix.Length)
            throw new StompRefusedException($"destination '{destination}' is not served here: use /topic/<name>, for example /topic/sensors.line1.temp");
        var topic = TopicMapping.DottedToMqttTopic(destination[TopicPrefix.Length..]);
        if (topic.AsSpan().IndexOfAny('+', '#') >= 0)
            throw new StompRefusedException($"destination '{destination}' has a wildcard: SEND needs a concrete destination");
        if (topic.Contains('\0')) throw new StompRefusedException($"destination '{destination}' contains a NUL character");
        return topic;
    }

    /// <summary>The MQTT topic filter a SUBSCRIBE destination names, or why it names none.</summary>
    internal static string FilterOf(string destination)
    {
        if (!destination.StartsWith(TopicPrefix, StringComparison.Ordinal) || destination.Length == TopicPrefix.Length)
            throw new StompRefusedException($"destination '{destination}' is not served here: use /topic/<name>, with * for one level and # for the rest (/topic/sensors.#)");
        var filter = TopicMapping.DottedToMqttTopic(destination[TopicPrefix.Length..]);
        if (TopicFilter.Validate(filter) is { } problem) throw new StompRefusedException($"destination '{destination}': {problem}");
        return filter;
    }

    internal static string DestinationOf(string topic) => TopicPrefix + TopicMapping.MqttTopicToDotted(topic);

    /// <returns>The commit of the last message stored, or null when none was (all went to local subscribers only).</returns>
    private async ValueTask<Task?> SendAsync(string sessionId, CachedAccess rules, IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken)
    {
        metrics.Increment("stomp_sends_received_total", by: sends.Count);
        // Check every frame before storing any, so a bad destination in a transaction stores nothing.
        var messages = ToMessages(sessionId, sends, rules);
        var commits = await StoreAsync(messages, durable, cancellationToken).ConfigureAwait(false);
        if (!durable)
        {
            foreach (var commit in commits)
            {
                _ = commit.ContinueWith(static (t, state) => ((StompBridge)state!).CountUnconfirmedFailure(t), this, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        foreach (var (message, _) in messages) await DeliverLocallyAsync(message).ConfigureAwait(false);
        return commits.Count > 0 ? commits[^1] : null;
    }

    /// <summary>
    /// The messages the SENDs carry, each with whether it is stored (an unrouted topic goes to local
    /// subscribers only); refuses the lot for a bad destination, or an unrouted one under <see cref="UnroutedPolicy.Reject"/>.
    /// </summary>
    private List<(IncomingMessage Message, bool Store)> ToMessages(string sessionId, IReadOnlyList<StompFrame> sends, CachedAccess rules)
    {
        var now = DateTimeOffset.UtcNow;
        var messages = new List<(IncomingMessage Message, bool Store)>(sends.Count);
        foreach (var frame in sends)
        {
            string topic;
            try
            {
                topic = TopicOf(frame["destination"]!);
            }
            catch (StompRefusedException ex)
            {
                throw Refused(ex.Message);
            }
            if (limits.TopicRefusal(topic, "STOMP session " + sessionId, $"destination {frame["destination"]}'s topic") is { } tooLong) throw Refused(tooLong);
            if (rules.Current.MayWrite(topic) is { IsAllowed: false } decision)
            {
                // Before anything of the request is stored: a transaction with one refused SEND stores none.
                access.Refused("stomp_send", rules.ClientId, rules.User, rules.ClientId, topic, decision);
                throw Refused($"not authorized to send to {frame["destination"]}");
            }
            var store = true;
            if (routes.IsUnrouted(topic))
            {
                metrics.Increment("messages_unrouted_total");
                if (options.Unrouted == UnroutedPolicy.Reject) throw Refused($"no route for topic '{topic}' (destination {frame["destination"]})");
                store = false; // local subscribers only, as for MQTT
            }
            messages.Add((ToIncoming(sessionId, topic, frame, now, routes), store));
        }
        return messages;
    }

    /// <summary>
    /// Queues the messages to be stored, in order; with <paramref name="durable"/> it returns once all
    /// are on disk. A refusal by the outbox becomes a refused SEND saying how many were stored.
    /// </summary>
    private async ValueTask<List<Task<long>>> StoreAsync(List<(IncomingMessage Message, bool Store)> messages, bool durable, CancellationToken cancellationToken)
    {
        var commits = new List<Task<long>>(messages.Count);
        try
        {
            foreach (var (message, store) in messages)
            {
                // Once the first is queued the rest follow whatever happens to the connection, so a
                // transaction is not cut in two by a client going away.
                if (store) commits.Add(await outbox.EnqueueAsync(message, awaited: durable, commits.Count == 0 ? cancellationToken : CancellationToken.None).ConfigureAwait(false));
            }
            if (durable) await Task.WhenAll(commits).ConfigureAwait(false);
        }
        catch (OutboxRejectedException ex)
        {
            var stored = commits.Count(c => c.IsCompletedSuccessfully);
            throw Refused(messages.Count == 1 ? $"not stored: {ex.Message}" : $"not stored: {ex.Message} ({stored} of the transaction's {messages.Count} messages were stored)", ex);
        }
        return commits;
    }

    private StompRefusedException Refused(string reason, Exception? inner = null)
    {
        metrics.Increment("stomp_sends_refused_total");
        LogRefused(reason);
        return new StompRefusedException(reason, inner);
    }

    private void CountUnconfirmedFailure(Task task)
    {
        metrics.Increment("stomp_unreceipted_store_failures_total");
        LogUnreceiptedFailed(task.Exception?.InnerException?.Message ?? "unknown");
    }

    private static IncomingMessage ToIncoming(string sessionId, string topic, StompFrame frame, DateTimeOffset now, RouteTable routes)
    {
        var properties = frame.Headers.Where(h => !FrameHeaders.Contains(h.Key)).ToArray();
        // expires: ms since the epoch, as ActiveMQ and RabbitMQ's STOMP read it; 0 or absent = never,
        // and so is a time past the year 9999 (found by fuzzing: FromUnixTimeMilliseconds threw on it).
        DateTimeOffset? ownExpiry = long.TryParse(frame["expires"], NumberStyles.None, CultureInfo.InvariantCulture, out var expires) && expires > 0
                                    && expires <= LastExpiryMilliseconds
            ? DateTimeOffset.FromUnixTimeMilliseconds(expires)
            : null;
        return new IncomingMessage
        {
            Topic = topic,
            Payload = frame.Body,
            Qos = QualityOfService.AtLeastOnce,
            ContentType = frame["content-type"],
            UserProperties = properties,
            ExpiresAt = routes.ExpiryFor(topic, now, ownExpiry),
            ClientId = "stomp:" + sessionId,
            ReceivedAt = now,
        };
    }

    /// <summary>To STOMP subscribers through the bus, and to MQTT subscribers through the MQTT server.</summary>
    private async ValueTask DeliverLocallyAsync(IncomingMessage message)
    {
        var local = new LocalMessage(message.Topic, message.Payload, message.ContentType, message.UserProperties, "stomp");
        await bus.PostAsync(local).ConfigureAwait(false); // the fan-out to STOMP subscribers happens off this path
        await mqtt.InjectAsync(message).ConfigureAwait(false);
    }

    private IDisposable Subscribe(StompSubscription subscription, CachedAccess rules)
    {
        var filter = FilterOf(subscription.Destination);
        if (limits.TopicRefusal(filter, "a STOMP session", $"subscription {subscription.Destination}'s filter") is { } tooLong) throw new StompRefusedException(tooLong);
        if (rules.Current.MaySubscribe(filter) is { IsAllowed: false } decision)
        {
            access.Refused("stomp_subscribe", rules.ClientId, rules.User, rules.ClientId, filter, decision);
            throw new StompRefusedException($"not authorized to subscribe to {subscription.Destination}");
        }
        return bus.Subscribe(filter, message =>
        {
            // Each message too: a deny rule inside the filter, or a file changed since the SUBSCRIBE.
            if (access.IsEnabled && rules.Current.MayRead(message.Topic) is { IsAllowed: false } refused)
            {
                access.Refused("stomp_delivery", rules.ClientId, rules.User, rules.ClientId, message.Topic, refused);
                return false; // not delivered: not this subscriber's to see
            }
            var headers = new List<KeyValuePair<string, string>>(message.Properties.Count + 1);
            if (message.ContentType is not null) headers.Add(new("content-type", message.ContentType));
            headers.AddRange(message.Properties);
            return subscription.Deliver(DestinationOf(message.Topic), headers, message.Payload);
        });
    }

    private void CommitLingeringNow() => outbox.CommitLingeringNow();

    /// <summary>CONNECT's <c>login</c>/<c>passcode</c> against the gateway's users; a refusal becomes the ERROR's message.</summary>
    private async ValueTask<string?> LoginAsync(StompFrame connect, System.Net.IPAddress? source, CancellationToken cancellationToken)
    {
        var result = await authenticator.LoginAsync("stomp", connect["login"], connect["passcode"], source, cancellationToken).ConfigureAwait(false);
        if (result.IsAccepted) return result.User;
        throw new StompRefusedException(result.Outcome == Security.LoginOutcome.BadCredentials
            ? $"authentication failed: {result.Reason}"
            : $"not authorized: {result.Reason}");
    }
    private CachedAccess AccessFor(string? login, string clientId) => access.For(login, clientId);

    /// <summary>One session's view of the bridge: it knows which session is sending, and its last commit.</summary>
    /// <param name="pacer">Gateway:Limits:PublishRatePerClient: the session reads its next frame only once a SEND is within the rate.</param>
    private sealed class SessionBackend(StompBridge bridge, string sessionId, System.Net.IPAddress? source, PublishPacer? pacer) : IStompBackend
    {
        private Task _lastCommit = Task.CompletedTask;
        private CachedAccess? _rules;

        /// <summary>The session's rules, by the user verified at CONNECT; STOMP has no client id, so <c>%c</c> is <c>stomp:</c> and the session id.</summary>
        private CachedAccess Rules => _rules ??= bridge.AccessFor(User, "stomp:" + sessionId);

        /// <summary>The user verified at CONNECT; null for an anonymous client (or before CONNECT).</summary>
        public string? User { get; private set; }

        public async ValueTask<string?> ConnectAsync(StompFrame connect, CancellationToken cancellationToken) =>
            User = await bridge.LoginAsync(connect, source, cancellationToken).ConfigureAwait(false);

        public async ValueTask SendAsync(IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken)
        {
            if (pacer is not null) await pacer.WaitTurnAsync(sends.Count, cancellationToken).ConfigureAwait(false);
            // A SEND that stored nothing (local subscribers only) leaves the earlier commit the one to wait for.
            if (await bridge.SendAsync(sessionId, Rules, sends, durable, cancellationToken).ConfigureAwait(false) is { } commit) _lastCommit = commit;
        }

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            // Commits complete in order: the last one done means every earlier one is decided.
            // SENDs without a receipt may be held back to share a commit; somebody waits for them now.
            if (!_lastCommit.IsCompleted) bridge.CommitLingeringNow();
            try
            {
                await _lastCommit.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OutboxRejectedException ex)
            {
                throw new StompRefusedException($"an earlier SEND was not stored: {ex.Message}", ex);
            }
        }

        public IDisposable Subscribe(StompSubscription subscription) => bridge.Subscribe(subscription, Rules);
    }

    [LoggerMessage(EventIds.StompClosed, LogLevel.Debug, "STOMP session {Session} from {Remote} ended: {Reason}")]
    private partial void LogClosed(string session, string remote, string reason);

    [LoggerMessage(EventIds.StompDisconnected, LogLevel.Warning, "STOMP session {Session} from {Remote} disconnected ({Kind}): {Reason}")]
    private partial void LogDisconnected(string session, string remote, StompCloseKind kind, string reason);

    [LoggerMessage(EventIds.StompFault, LogLevel.Error, "STOMP session {Session} from {Remote} failed")]
    private partial void LogFault(Exception? exception, string session, string remote);

    /// <summary>A refusal per message: a Warning once a minute per cause, Debug between (all counted in stomp_sends_refused_total).</summary>
    private static readonly Hosting.RepeatedEventLevel RefusalLevel = new(TimeSpan.FromMinutes(1));

    private void LogRefused(string reason) => LogRefused(RefusalLevel.For(reason), reason);

    [LoggerMessage(EventId = EventIds.StompSendRefused, Message = "Refused a STOMP SEND: {Reason}")]
    private partial void LogRefused(LogLevel level, string reason);

    [LoggerMessage(EventIds.StompUnreceiptedStoreFailed, LogLevel.Error, "A STOMP SEND without a receipt could not be stored: {Cause}")]
    private partial void LogUnreceiptedFailed(string cause);
}

/// <summary>An open STOMP session: its id, the client's address (and transport), when it connected.</summary>
internal sealed record StompSessionInfo(string Id, string Remote, DateTimeOffset ConnectedAt);
