using System.Buffers;
using Gateway.Configuration;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;
using Gateway.Core.Ingest;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Puts every MQTT publish through the outbox before its PUBACK/PUBREC leaves or anybody local sees it:
/// the adapter between MQTTnet's interceptors and each connection's <see cref="AckSequencer{TMessage}"/>,
/// which holds the rules (ack order, refusal then close, the limit of acks waiting, delivery before a will).
/// </summary>
/// <remarks>
/// <para>
/// MQTTnet awaits the publish interceptor before it queues the ack, and reads nothing more from the
/// connection meanwhile. So a QoS 1/2 publish is only queued for the writer here; MQTTnet is told not
/// to deliver it (<c>ProcessPublish = false</c>, the ack still says success) and the receive loop goes
/// on reading. Its ack then waits in MQTTnet's send loop, in the outbound packet interceptor, for the
/// commit to be on disk and the local delivery of the message (<see cref="OnOutboundPacketAsync"/>),
/// with the connection's next publishes already on their way to the next commit.
/// </para>
/// <para>
/// Which publishes are the connection's own: the receive loop hands every packet it reads to the
/// inbound packet interceptor before anything else, which announces a publish to the sequencer; a
/// publish the gateway injects carries <see cref="MqttListenerService.InjectedItem"/>. Any other publish
/// with the connection's session items is its will, which MQTTnet publishes once the receive loop has ended.
/// </para>
/// </remarks>
internal sealed partial class MqttIngest(
    IOutbox outbox,
    RouteTable routes,
    GatewayOptions options,
    LocalBus bus,
    GatewayMetrics metrics,
    WillDelays wills,
    Limits.TopicLimits topicLimits,
    MqttAuthorisation authorisation,
    ILogger<MqttIngest> logger)
{
    /// <summary>
    /// How many acks may wait per connection: the receive loop reads no further publish until one is on
    /// its way out, so a client that sends without reading its acks holds at most this many messages here.
    /// </summary>
    public const int MaxAcksWaiting = 256;

    private const string AcksItem = "gateway.acks";

    /// <summary>The server, for local delivery of what was stored and for closing a refused MQTT 3.1.1 connection; set once it starts.</summary>
    public MqttServer? Server { get; set; }

    /// <summary>Persistent sessions: what local delivery queued for them is on disk before the publisher's ack leaves.</summary>
    public Sessions.PersistentSessions? Sessions { get; set; }

    public Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        // Per connection, not per session: a resumed session keeps its items, and an earlier
        // connection's unsent acks (or its protocol version) must not be taken for this one's.
        e.SessionItems[AcksItem] = new AckSequencer<StoredPublish>(e.ProtocolVersion == MqttProtocolVersion.V500, MaxAcksWaiting, DeliverLocally);
        return Task.CompletedTask;
    }

    /// <summary>Announces a publish the receive loop read, with its packet identifier: the publish interceptor that runs next does not get it.</summary>
    public Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket publish && e.SessionItems[AcksItem] is AckSequencer<StoredPublish> acks)
            acks.Announce(publish.PacketIdentifier, e.CancellationToken);
        return Task.CompletedTask;
    }

    public async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.SessionItems.Contains(MqttListenerService.InjectedItem)) return; // a STOMP SEND or a local delivery, stored already
        var connection = e.SessionItems[AcksItem] as AckSequencer<StoredPublish>;
        ushort packetId = 0;
        PendingWill? will = null;
        if (connection is not null && !connection.TryTakeAnnounced(out packetId))
        {
            // Its will: after the stored messages its end is delivering, not before; no ack, no connection to order it in.
            will = wills.Hold(e.ClientId, e.SessionItems); // its Will Delay Interval (MQTT 5) runs from the end of the connection
            await connection.DeliveredAtEnd.ConfigureAwait(false);
            connection = null;
        }
        var arrival = new Arrival(e, connection, packetId);
        try
        {
            if (will is null || await will.IsDueAsync().ConfigureAwait(false)) await IngestAsync(arrival).ConfigureAwait(false);
            else e.ProcessPublish = false; // the client came back to its session in time (MQTT-3.1.3-9)
        }
        catch (OutboxRejectedException ex)
        {
            await RefuseAsync(arrival, CodeFor(ex), ex.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (e.CancellationToken.IsCancellationRequested)
        {
            // The connection went away while the publish waited (for room in the writer's queue, or
            // for earlier acks): no ack, and the client still holds what is unacknowledged.
            e.ProcessPublish = false;
        }
        finally
        {
            will?.Finish();
            // A connection that is going away (taken over by a new one, say) queues no ack: with a
            // resumed session its queue is the new connection's, whose entries it would match by
            // packet identifier.
            if (e.CancellationToken.IsCancellationRequested) e.CloseConnection = true;
        }
    }

    private async Task IngestAsync(Arrival arrival)
    {
        var e = arrival.Args;
        if (arrival.Held is { } held) await held.WaitForRoomAsync(e.CancellationToken).ConfigureAwait(false);
        if (arrival.Connection is { IsClosing: true })
        {
            // Read after a refusal on MQTT 3.1.1 while the acks before it leave: the connection closes at
            // the refusal's turn, so this is neither stored nor acked, and counted.
            e.ProcessPublish = false;
            arrival.Held?.Settle(arrival.PacketId); // its ack never leaves: the refusal's turn stops all after it
            metrics.Increment("mqtt_publishes_ignored_total");
            return;
        }
        if (string.IsNullOrEmpty(e.ApplicationMessage.Topic) || !e.ProcessPublish)
        {
            arrival.Held?.Settle(arrival.PacketId); // MQTTnet already refused it (unknown topic alias): its reason code goes out
            return;
        }
        if (SysTopicsPublisher.IsReserved(e.ApplicationMessage.Topic))
        {
            // $ topics are the server's (MQTT 5.0 4.7.2): the client is not allowed to publish there.
            await RefuseAsync(arrival, MqttPubAckReasonCode.NotAuthorized, "topics starting with $ are reserved for the server").ConfigureAwait(false);
            return;
        }
        if (topicLimits.Refusal(e.ApplicationMessage.Topic, $"client '{e.ClientId}'", "publish topic") is { } tooLong)
        {
            // MQTT 5's 0x90 Topic Name invalid: "not malformed, but not accepted by this Server".
            await RefuseAsync(arrival, MqttPubAckReasonCode.TopicNameInvalid, tooLong).ConfigureAwait(false);
            return;
        }
        if (authorisation.IsEnabled && authorisation.MayPublish(e.ClientId, e.UserName, e.ApplicationMessage.Topic) is { } notAuthorized)
        {
            // Refused before anything is stored or delivered; a will is checked here too, when it goes out.
            // The ACL logs its refusals itself, at a rate a flood cannot turn into a log flood.
            await RefuseAsync(arrival, MqttPubAckReasonCode.NotAuthorized, notAuthorized, logged: false).ConfigureAwait(false);
            return;
        }
        metrics.Increment("mqtt_publishes_received_total");
        if (routes.IsUnrouted(e.ApplicationMessage.Topic)) await IngestUnroutedAsync(arrival).ConfigureAwait(false);
        else await StoreAsync(arrival).ConfigureAwait(false);
    }

    private async Task IngestUnroutedAsync(Arrival arrival)
    {
        var e = arrival.Args;
        metrics.Increment("messages_unrouted_total");
        if (options.Unrouted != UnroutedPolicy.Local)
        {
            await RefuseAsync(arrival, MqttPubAckReasonCode.ImplementationSpecificError, $"no route for topic '{e.ApplicationMessage.Topic}'").ConfigureAwait(false);
            return;
        }
        // Local subscribers still get it (MQTTnet delivers to MQTT's once this returns); nothing to store.
        if (arrival.Connection is { } connection) await connection.WaitForEarlierAcksAsync(e.CancellationToken).ConfigureAwait(false);
        await PublishLocallyAsync(e.ClientId, e.ApplicationMessage).ConfigureAwait(false);
        arrival.Held?.Settle(arrival.PacketId);
    }

    private async Task StoreAsync(Arrival arrival)
    {
        var e = arrival.Args;
        var application = e.ApplicationMessage;
        var message = ToIncoming(e.ClientId, application, routes);
        var committed = await outbox.EnqueueAsync(message, awaited: !arrival.AtMostOnce, e.CancellationToken).ConfigureAwait(false);
        if (arrival.AtMostOnce)
        {
            // QoS 0: stored by the same path, but nobody waits for the disk; a failure is counted and logged.
            _ = committed.ContinueWith(ReportQosZeroFailure, this, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            // Local subscribers and retained messages see a connection's messages in the order it sent them.
            if (arrival.Connection is { } connection) await connection.WaitForEarlierAcksAsync(e.CancellationToken).ConfigureAwait(false);
            await PublishLocallyAsync(message).ConfigureAwait(false); // MQTTnet delivers it to MQTT subscribers once this returns
        }
        else if (arrival.Held is { } held)
        {
            // The ack and the local delivery wait in the send loop, which delivers from the store's
            // copy: the sequencer does not keep MQTTnet's as well.
            e.ProcessPublish = false;
            application.Payload = ReadOnlySequence<byte>.Empty;
            held.Hold(arrival.PacketId, committed, new StoredPublish(message, application));
        }
        else
        {
            // A will, or no connection state: any ack waits here, and MQTTnet delivers once this returns.
            await committed.ConfigureAwait(false);
            await PublishLocallyAsync(message).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A refusal known when the publish arrives: MQTTnet sends the ack with the reason code (MQTT 5), or
    /// the connection is closed (MQTT 3.1.1), at the publish's turn among the acks or, without an ack
    /// (QoS 0), once the acks waiting before it have left (<see cref="CloseAfterEarlierAcksAsync"/>).
    /// </summary>
    private Task RefuseAsync(Arrival arrival, MqttPubAckReasonCode code, string reason, bool logged = true)
    {
        var e = arrival.Args;
        e.ProcessPublish = false;
        // Unknown version (a will, say): closing is the refusal both understand.
        var refusal = arrival.Connection is null ? ArrivalRefusal.CloseNow
            : arrival.Held is not null ? arrival.Held.RefuseOnArrival(arrival.PacketId)
            : arrival.Connection.RefuseUnacknowledgedOnArrival();
        var answer = refusal switch
        {
            ArrivalRefusal.ReasonCode => $"reason code 0x{(int)code:x2}",
            ArrivalRefusal.CloseAfterEarlierAcks => "disconnect once the acks of earlier publishes have left (MQTT 3.1.1)",
            _ => "disconnect (MQTT 3.1.1)",
        };
        if (refusal == ArrivalRefusal.ReasonCode)
        {
            e.Response.ReasonCode = code;
            e.Response.ReasonString = reason;
        }
        else if (refusal == ArrivalRefusal.CloseNow)
        {
            e.CloseConnection = true;
        }
        metrics.Increment("mqtt_publishes_refused_total");
        if (logged) LogRefused(e.ClientId, e.ApplicationMessage.Topic, answer, reason);
        return refusal == ArrivalRefusal.CloseAfterEarlierAcks ? CloseAfterEarlierAcksAsync(e, arrival.Connection!) : Task.CompletedTask;
    }

    private static MqttPubAckReasonCode CodeFor(OutboxRejectedException ex) => ex.Reason switch
    {
        OutboxRejection.QuotaExceeded => MqttPubAckReasonCode.QuotaExceeded,
        OutboxRejection.TooLarge => MqttPubAckReasonCode.ImplementationSpecificError,
        _ => MqttPubAckReasonCode.UnspecifiedError,
    };

    private static void ReportQosZeroFailure(Task task, object? state)
    {
        var self = (MqttIngest)state!;
        self.CountQosZeroFailure(task.Exception?.InnerException?.Message ?? "unknown");
    }

    private void CountQosZeroFailure(string cause)
    {
        metrics.Increment("mqtt_qos0_store_failures_total");
        LogQosZeroFailed(cause);
    }

    internal static IncomingMessage ToIncoming(string clientId, MqttApplicationMessage m, RouteTable routes)
    {
        var now = DateTimeOffset.UtcNow;
        var ownExpiry = m.MessageExpiryInterval > 0 ? now.AddSeconds(m.MessageExpiryInterval) : (DateTimeOffset?)null;
        return new IncomingMessage
        {
            Topic = m.Topic,
            // MQTTnet may reuse the buffer once the interceptor returns: the store gets its own copy.
            Payload = m.Payload.IsEmpty ? Array.Empty<byte>() : m.Payload.ToArray(),
            Qos = (QualityOfService)(int)m.QualityOfServiceLevel,
            Retain = m.Retain,
            ContentType = m.ContentType,
            CorrelationData = m.CorrelationData,
            ResponseTopic = m.ResponseTopic,
            UserProperties = m.UserProperties is { Count: > 0 } props
                ? props.Select(p => new KeyValuePair<string, string>(p.Name, System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span))).ToArray()
                : [],
            ExpiresAt = routes.ExpiryFor(m.Topic, now, ownExpiry),
            ClientId = clientId,
            ReceivedAt = now,
        };
    }

    /// <summary>A message held for its ack: the store's copy, and MQTTnet's (without its payload) to deliver to MQTT subscribers.</summary>
    internal readonly record struct StoredPublish(IncomingMessage Message, MqttApplicationMessage Application);

    /// <summary>
    /// One publish in the interceptor. <see cref="Connection"/> is null for one its connection's receive
    /// loop did not read (the will); <see cref="Held"/> is set when its ack waits in the send loop (QoS 1/2).
    /// </summary>
    private readonly record struct Arrival(InterceptingPublishEventArgs Args, AckSequencer<StoredPublish>? Connection, ushort PacketId)
    {
        public bool AtMostOnce => Args.ApplicationMessage.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce;

        public AckSequencer<StoredPublish>? Held => AtMostOnce ? null : Connection;
    }

    /// <summary>A refusal per message: a Warning once a minute per cause, Debug between (all counted in mqtt_publishes_refused_total).</summary>
    private static readonly Hosting.RepeatedEventLevel RefusalLevel = new(TimeSpan.FromMinutes(1));

    private void LogRefused(string clientId, string topic, string answer, string reason) => LogRefused(RefusalLevel.For(reason), clientId, topic, answer, reason);

    [LoggerMessage(EventId = EventIds.PublishRefused, Message = "Refused a publish from {ClientId} to '{Topic}' with {Answer}: {Reason}")]
    private partial void LogRefused(LogLevel level, string clientId, string topic, string answer, string reason);

    [LoggerMessage(EventIds.LocalDeliveryFailed, LogLevel.Warning, "A stored message to '{Topic}' could not be delivered to local subscribers: {Cause}")]
    private partial void LogLocalDeliveryFailed(string topic, string cause);

    [LoggerMessage(EventIds.QosZeroStoreFailed, LogLevel.Error, "A QoS 0 message could not be stored: {Cause}")]
    private partial void LogQosZeroFailed(string cause);
}
