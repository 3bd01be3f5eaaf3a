using System.Buffers;
using Gateway.Configuration;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;
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
/// Puts every MQTT publish through the outbox before its PUBACK/PUBREC leaves or anybody local sees it.
/// </summary>
/// <remarks>
/// <para>
/// MQTTnet awaits the publish interceptor before it queues the ack, and reads nothing more from the
/// connection meanwhile. So a QoS 1/2 publish is only queued for the writer here; MQTTnet is told not
/// to deliver it (<c>ProcessPublish = false</c>, the ack still says success) and the receive loop goes
/// on reading. Its ack then waits in MQTTnet's send loop, in the outbound packet interceptor, for the
/// commit to be on disk: exactly "ack only after the commit is on disk", with the connection's next
/// publishes already on their way to the next commit. Once it is, the send loop queues the message
/// for the local bus's STOMP subscribers (whose fan-out happens off this path), hands it to MQTTnet
/// for its MQTT subscribers, and lets the ack go. Acks leave in the order the publishes
/// came, as the send loop takes them in that order and commits complete in order. At most
/// <see cref="ConnectionAcks.MaxPending"/> acks wait per connection; a publish MQTTnet delivers itself
/// (QoS 0) waits until those before it are delivered, so local order is the order sent.
/// </para>
/// <para>
/// A refusal sets a reason code (MQTT 5) or closes the connection without an ack (MQTT 3.1.1, which
/// has no way to say no): the client keeps its message and sends it again. A refusal known on arrival
/// (no route, too large, over quota) is set on the ack at once and leaves after the acks before it;
/// on MQTT 3.1.1 the connection is closed at that ack's turn, so the earlier, stored publishes are
/// acknowledged and not sent again, and what is read meanwhile is neither stored nor acked (a QoS 0
/// publish refused on MQTT 3.1.1 closes the connection once the acks waiting before it have left, see
/// <see cref="RefuseAsync"/>). A commit that fails is answered when its ack would have left.
/// </para>
/// </remarks>
internal sealed partial class MqttIngest(
    IOutbox outbox,
    RouteTable routes,
    GatewayOptions options,
    LocalBus bus,
    GatewayMetrics metrics,
    ILogger<MqttIngest> logger)
{
    private const string AcksItem = "gateway.acks";

    /// <summary>An ack whose answer was settled when its publish arrived (a reason code, or nothing to store).</summary>
    private static readonly PendingAck Settled = new(null, null, null);

    /// <summary>The ack of a publish refused on arrival on MQTT 3.1.1: when its turn comes, the connection is closed instead.</summary>
    private static readonly PendingAck CloseHere = new(null, null, null);

    /// <summary>The server, for local delivery of what was stored and for closing a refused MQTT 3.1.1 connection; set once it starts.</summary>
    public MqttServer? Server { get; set; }

    public Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        // Per connection, not per session: a resumed session keeps its items, and an earlier
        // connection's unsent acks (or its protocol version) must not be taken for this one's.
        e.SessionItems[AcksItem] = new ConnectionAcks(e.ProtocolVersion == MqttProtocolVersion.V500);
        return Task.CompletedTask;
    }

    /// <summary>Notes the packet identifier of a publish: the publish interceptor that runs next does not get it.</summary>
    public Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket publish && e.SessionItems[AcksItem] is ConnectionAcks acks) acks.Arrive(publish.PacketIdentifier);
        return Task.CompletedTask;
    }

    public async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.SessionItems.Contains(MqttListenerService.InjectedItem)) return; // a STOMP SEND or a local delivery, stored already
        var application = e.ApplicationMessage;
        var atMostOnce = application.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce;
        // Read by this connection's receive loop? A will is published after the loop ended, with no token to cancel.
        ushort packetId = 0;
        var acks = e.CancellationToken.CanBeCanceled && e.SessionItems[AcksItem] is ConnectionAcks connection && connection.TakeArriving(out packetId)
            ? connection : null;
        var held = atMostOnce ? null : acks; // its ack waits in the send loop, with an entry for every QoS 1/2 publish
        try
        {
            // A will: after what its connection's end is delivering, not before.
            if (acks is null && !e.CancellationToken.CanBeCanceled && e.SessionItems[AcksItem] is ConnectionAcks ended)
                await ended.Ended.ConfigureAwait(false);
            if (held is not null) await held.WaitUntilFewerThanAsync(ConnectionAcks.MaxPending, e.CancellationToken).ConfigureAwait(false);
            if (acks is { Closing: true })
            {
                // Read after a refusal on MQTT 3.1.1 while the acks before that one leave: the connection
                // closes at the refusal's turn, so this is neither stored nor acked (QoS 1/2 comes again;
                // QoS 0 is lost, as it would be to a close at once), and counted.
                e.ProcessPublish = false;
                held?.Add(packetId, Settled); // its ack never leaves: the refusal's turn stops all after it
                metrics.Increment("mqtt_publishes_ignored_total");
                return;
            }
            if (string.IsNullOrEmpty(application.Topic) || !e.ProcessPublish)
            {
                held?.Add(packetId, Settled); // MQTTnet already refused it (unknown topic alias): its reason code goes out
                return;
            }
            metrics.Increment("mqtt_publishes_received_total");

            if (routes.IsUnrouted(application.Topic))
            {
                metrics.Increment("messages_unrouted_total");
                if (options.Unrouted == UnroutedPolicy.Local)
                {
                    await AfterEarlierDeliveriesAsync(acks, e.CancellationToken).ConfigureAwait(false);
                    await PublishLocallyAsync(e.ClientId, application).ConfigureAwait(false); // local subscribers still get it (MQTTnet delivers to MQTT's); nothing to store
                }
                else
                {
                    await RefuseAsync(e, acks, held, MqttPubAckReasonCode.ImplementationSpecificError, $"no route for topic '{application.Topic}'").ConfigureAwait(false);
                }
                held?.Add(packetId, held.Closing ? CloseHere : Settled);
                return;
            }

            var message = ToIncoming(e.ClientId, application, routes);
            var committed = await outbox.EnqueueAsync(message, awaited: !atMostOnce, e.CancellationToken).ConfigureAwait(false);
            if (atMostOnce)
            {
                // QoS 0: stored by the same path, but nobody waits for the disk; a failure is counted and logged.
                _ = committed.ContinueWith(ReportQosZeroFailure, this, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                await AfterEarlierDeliveriesAsync(acks, e.CancellationToken).ConfigureAwait(false);
                await PublishLocallyAsync(message).ConfigureAwait(false); // MQTTnet delivers it to MQTT subscribers once this returns
            }
            else if (held is not null)
            {
                // The ack and the local delivery wait in the send loop (OnOutboundPacketAsync), which
                // delivers from the store's copy: the entry does not keep MQTTnet's as well.
                e.ProcessPublish = false;
                application.Payload = ReadOnlySequence<byte>.Empty;
                held.Add(packetId, new PendingAck(committed, message, application));
                held.WatchEnd(e.CancellationToken, DeliverRemaining, e.ClientId);
            }
            else
            {
                // A will, or no connection state: any ack waits here, and MQTTnet delivers once this returns.
                await committed.ConfigureAwait(false);
                await PublishLocallyAsync(message).ConfigureAwait(false);
            }
        }
        catch (OutboxRejectedException ex)
        {
            await RefuseAsync(e, acks, held, CodeFor(ex), ex.Message).ConfigureAwait(false);
            held?.Add(packetId, held.Closing ? CloseHere : Settled);
        }
        catch (OperationCanceledException) when (e.CancellationToken.IsCancellationRequested)
        {
            // The connection went away while the publish waited (for room in the writer's queue, or
            // for earlier acks): no ack, and the client still holds what is unacknowledged.
            e.ProcessPublish = false;
        }
        finally
        {
            // A connection that is going away (taken over by a new one, say) queues no ack: with a
            // resumed session its queue is the new connection's, whose entries it would match by
            // packet identifier.
            if (e.CancellationToken.IsCancellationRequested) e.CloseConnection = true;
        }
    }

    /// <summary>
    /// Before MQTTnet delivers a publish itself (QoS 0, or unrouted and kept local): the connection's
    /// earlier QoS 1/2 publishes are delivered first, as their acks leave, so local subscribers and
    /// retained messages see a connection's messages in the order it sent them.
    /// </summary>
    private static Task AfterEarlierDeliveriesAsync(ConnectionAcks? acks, CancellationToken cancellationToken) =>
        acks is null ? Task.CompletedTask : acks.WaitUntilFewerThanAsync(1, cancellationToken);

    /// <summary>
    /// Holds a PUBACK or PUBREC in MQTTnet's send loop until its publish's commit is on disk, then
    /// delivers the message locally and lets the ack go; answers a failed commit instead.
    /// </summary>
    public async Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        ushort packetId;
        if (e.Packet is MqttPubAckPacket pubAck) packetId = pubAck.PacketIdentifier;
        else if (e.Packet is MqttPubRecPacket pubRec) packetId = pubRec.PacketIdentifier;
        else return;
        if (e.SessionItems[AcksItem] is not ConnectionAcks acks) return; // not seen connecting: the publish interceptor waited

        if (!acks.TryGet(packetId, out var pending))
        {
            // An ack this connection's interceptor never saw (a connection taken over meanwhile): an
            // ack leaves only when it is known to be true. Without it the client sends the message again.
            e.ProcessPacket = false;
            return;
        }
        try
        {
            if (acks.Refused)
            {
                // After a refusal on MQTT 3.1.1: acks go in order, so none may follow.
                e.ProcessPacket = false;
                return;
            }
            if (ReferenceEquals(pending, CloseHere))
            {
                // Refused on arrival (MQTT 3.1.1): the acks before it have left, so the client will not
                // send those stored messages again; this one gets none, nor anything after it.
                StopAcking(e, acks);
                return;
            }
            if (pending.Stored is null) return; // settled on arrival

            try
            {
                await pending.Stored.ConfigureAwait(false);
            }
            catch (OutboxRejectedException ex)
            {
                RefuseAck(e, acks, pending.Message!.Topic, CodeFor(ex), ex.Message);
                return;
            }
            catch (Exception)
            {
                // The outbox is closing, or failed in a way it does not name: whether the message is
                // stored is unknown, so no ack, none after it (acks go in order), and the connection is
                // closed so the client sends again what is unacknowledged.
                StopAcking(e, acks);
                return;
            }
            metrics.Observe("mqtt_ack_store_wait_seconds", System.Diagnostics.Stopwatch.GetElapsedTime(pending.Arrived));
            await pending.DeliverOnce(DeliverLocally, e.ClientId).ConfigureAwait(false);
        }
        finally
        {
            // Only now: a publish MQTTnet delivers itself waits for this (AfterEarlierDeliveriesAsync).
            acks.Done(packetId);
        }
    }

    private Func<string, IReadOnlyList<PendingAck>, Task> DeliverRemaining => _deliverRemaining ??= DeliverRemainingAsync;
    private Func<string, IReadOnlyList<PendingAck>, Task>? _deliverRemaining;

    private Func<PendingAck, string, Task> DeliverLocally => _deliverLocally ??= (pending, clientId) => DeliverLocallyAsync(clientId, pending.Message!, pending.Application!);
    private Func<PendingAck, string, Task>? _deliverLocally;

    /// <summary>
    /// A connection ended with acks still waiting: their messages are stored (or will be) and are
    /// forwarded, so local subscribers get them too, in the order sent, once each commit is on disk.
    /// </summary>
    private async Task DeliverRemainingAsync(string clientId, IReadOnlyList<PendingAck> remaining)
    {
        foreach (var pending in remaining)
        {
            try
            {
                await pending.Stored!.ConfigureAwait(false);
            }
            catch (Exception)
            {
                continue; // not stored: nobody local sees it
            }
            // Started by its send loop, if that got to it first: then this waits for that delivery, so the
            // next message (and the will) does not overtake it.
            await pending.DeliverOnce(DeliverLocally, clientId).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// To STOMP subscribers (the local bus) and MQTT subscribers, as MQTTnet would have on arrival.
    /// Best effort: the message is stored and its ack must still leave, whatever happens here.
    /// </summary>
    private async Task DeliverLocallyAsync(string clientId, IncomingMessage message, MqttApplicationMessage application)
    {
        try
        {
            await PublishLocallyAsync(message).ConfigureAwait(false);
            if (Server is not { IsStarted: true } server) return; // stopping: the store has it
            application.Payload = new ReadOnlySequence<byte>(message.Payload);
            await MqttListenerService.DeliverAsync(server, application, clientId).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            metrics.Increment("local_delivery_failures_total");
            LogLocalDeliveryFailed(message.Topic, ex.Message);
        }
    }

    private static MqttPubAckReasonCode CodeFor(OutboxRejectedException ex) => ex.Reason switch
    {
        OutboxRejection.QuotaExceeded => MqttPubAckReasonCode.QuotaExceeded,
        OutboxRejection.TooLarge => MqttPubAckReasonCode.ImplementationSpecificError,
        _ => MqttPubAckReasonCode.UnspecifiedError,
    };

    /// <summary>
    /// Queued for the local bus's (STOMP) subscribers, in the order of this connection's messages; the
    /// fan-out itself happens off this path (<see cref="LocalBus"/>). Nothing is built when there
    /// are no subscribers, the usual case on the ingest path.
    /// </summary>
    private ValueTask PublishLocallyAsync(IncomingMessage message) =>
        bus.SubscriberCount == 0
            ? ValueTask.CompletedTask
            : bus.PostAsync(new LocalMessage(message.Topic, message.Payload, message.ContentType, message.UserProperties, "mqtt"));

    private ValueTask PublishLocallyAsync(string clientId, MqttApplicationMessage application) =>
        bus.SubscriberCount == 0 ? ValueTask.CompletedTask : PublishLocallyAsync(ToIncoming(clientId, application, routes));

    /// <summary>
    /// A refusal known when the publish arrives: MQTTnet sends the ack with the reason code (MQTT 5), or
    /// the connection is closed (MQTT 3.1.1). A QoS 1/2 publish's close waits for its turn in the send
    /// loop (<paramref name="held"/>), so the acks of the stored publishes before it leave first; a
    /// QoS 0 one has no ack to wait with: it closes at once when no acks are waiting, and after them
    /// when some are (<see cref="CloseAfterEarlierAcksAsync"/>).
    /// </summary>
    private Task RefuseAsync(InterceptingPublishEventArgs e, ConnectionAcks? acks, ConnectionAcks? held, MqttPubAckReasonCode code, string reason)
    {
        var closeAfterAcks = false;
        e.ProcessPublish = false;
        var isV5 = acks?.IsV5 ?? false; // unknown version: closing is the refusal both understand
        string answer;
        if (isV5)
        {
            e.Response.ReasonCode = code;
            e.Response.ReasonString = reason;
            answer = $"reason code 0x{(int)code:x2}";
        }
        else if (held is not null)
        {
            // MQTT 3.1.1 has no negative PUBACK: closing without one tells the client to keep the message.
            held.Closing = true;
            answer = "disconnect (MQTT 3.1.1)";
        }
        else if (acks is { HasPending: true })
        {
            closeAfterAcks = true;
            answer = "disconnect once the acks of earlier publishes have left (MQTT 3.1.1)";
        }
        else
        {
            e.CloseConnection = true;
            answer = "disconnect (MQTT 3.1.1)";
        }
        metrics.Increment("mqtt_publishes_refused_total");
        LogRefused(e.ClientId, e.ApplicationMessage.Topic, answer, reason);
        return closeAfterAcks ? CloseAfterEarlierAcksAsync(e, acks!) : Task.CompletedTask;
    }

    /// <summary>How long a close waits after the last earlier ack's entry goes (see <see cref="CloseAfterEarlierAcksAsync"/>).</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// A QoS 0 publish refused on MQTT 3.1.1 while acks wait: the connection is closed once they have
    /// left, not at once, which would lose them (the client would send those stored messages again).
    /// The receive loop waits here, so nothing after the refused publish is read.
    /// </summary>
    private static async Task CloseAfterEarlierAcksAsync(InterceptingPublishEventArgs e, ConnectionAcks acks)
    {
        try
        {
            await acks.WaitUntilFewerThanAsync(1, e.CancellationToken).ConfigureAwait(false);
            // The last ack's entry goes just before MQTTnet writes that ack: a moment's grace lets the
            // write start before the close cancels the connection.
            await Task.Delay(CloseGrace, e.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Gone meanwhile.
        }
        e.CloseConnection = true;
    }

    /// <summary>A commit that failed, answered as its ack is about to leave.</summary>
    private void RefuseAck(InterceptingPacketEventArgs e, ConnectionAcks acks, string topic, MqttPubAckReasonCode code, string reason)
    {
        if (acks.IsV5)
        {
            if (e.Packet is MqttPubAckPacket pubAck)
            {
                pubAck.ReasonCode = code;
                pubAck.ReasonString = reason;
            }
            else if (e.Packet is MqttPubRecPacket pubRec)
            {
                pubRec.ReasonCode = (MqttPubRecReasonCode)(int)code; // the same values for these codes
                pubRec.ReasonString = reason;
            }
        }
        else
        {
            // No ack for this one, none after it, and the connection closed: the client keeps what is unacknowledged.
            StopAcking(e, acks);
        }
        metrics.Increment("mqtt_publishes_refused_total");
        LogRefused(e.ClientId, topic, acks.IsV5 ? $"reason code 0x{(int)code:x2}" : "disconnect (MQTT 3.1.1)", reason);
    }

    /// <summary>This ack does not leave, nor any after it (acks go in order), and the connection is closed.</summary>
    private void StopAcking(InterceptingPacketEventArgs e, ConnectionAcks acks)
    {
        acks.Refused = true;
        e.ProcessPacket = false;
        Close(e);
    }

    /// <summary>Closes the connection whose ack interceptor this is, off the send loop (closing waits for it).</summary>
    private void Close(InterceptingPacketEventArgs e)
    {
        if (Server is not { } server || e.CancellationToken.IsCancellationRequested) return; // closing already
        _ = Task.Run(() => CloseAsync(server, e.ClientId, e.RemoteEndPoint));
    }

    private static async Task CloseAsync(MqttServer server, string clientId, System.Net.EndPoint remoteEndPoint)
    {
        try
        {
            // This connection only: the client may be connected again already, under the same id.
            var clients = await server.GetClientsAsync().ConfigureAwait(false);
            var connection = clients.FirstOrDefault(c => c.Id == clientId && Equals(c.RemoteEndPoint, remoteEndPoint));
            if (connection is not null) await connection.DisconnectAsync(new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.UnspecifiedError }).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Gone already.
        }
    }

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

    [LoggerMessage(EventIds.PublishRefused, LogLevel.Warning, "Refused a publish from {ClientId} to '{Topic}' with {Answer}: {Reason}")]
    private partial void LogRefused(string clientId, string topic, string answer, string reason);

    [LoggerMessage(EventIds.LocalDeliveryFailed, LogLevel.Warning, "A stored message to '{Topic}' could not be delivered to local subscribers: {Cause}")]
    private partial void LogLocalDeliveryFailed(string topic, string cause);

    [LoggerMessage(EventIds.QosZeroStoreFailed, LogLevel.Error, "A QoS 0 message could not be stored: {Cause}")]
    private partial void LogQosZeroFailed(string cause);
}
