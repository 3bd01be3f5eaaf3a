using System.Buffers;
using Gateway.Core.Bus;
using Gateway.Core.Ingest;
using Gateway.Core.Messages;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>The send side: acks held until their sequencer lets them go, local delivery, and closing a connection.</summary>
internal sealed partial class MqttIngest
{
    /// <summary>How long a close waits after the last earlier ack's entry goes (see <see cref="CloseAfterEarlierAcksAsync"/>).</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromMilliseconds(50);

    private Func<StoredPublish, Task>? _deliverLocally;

    private Func<StoredPublish, Task> DeliverLocally => _deliverLocally ??= DeliverLocallyAsync;

    /// <summary>
    /// Holds a PUBACK or PUBREC in MQTTnet's send loop until its sequencer answers (for a stored
    /// publish: once the commit is on disk and the message delivered locally), then lets it go,
    /// with a refusal's reason code, or not at all.
    /// </summary>
    public async Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        ushort packetId;
        if (e.Packet is MqttPubAckPacket pubAck) packetId = pubAck.PacketIdentifier;
        else if (e.Packet is MqttPubRecPacket pubRec) packetId = pubRec.PacketIdentifier;
        else return;
        if (e.SessionItems[AcksItem] is not AckSequencer<StoredPublish> acks) return; // not seen connecting: the publish interceptor waited

        var verdict = await acks.AckLeavingAsync(packetId).ConfigureAwait(false);
        if (verdict.StoreWait is { } storeWait) metrics.Observe("mqtt_ack_store_wait_seconds", storeWait);
        switch (verdict.Action)
        {
            case AckAction.SendRefusal:
                SetReasonCode(e.Packet, CodeFor(verdict.Rejection!), verdict.Rejection!.Message);
                break;
            case AckAction.Withhold:
                e.ProcessPacket = false;
                break;
            case AckAction.WithholdAndClose:
                // No ack for this one, none after it, and the connection closed: the client keeps what is unacknowledged.
                e.ProcessPacket = false;
                Close(e);
                break;
        }
        if (verdict.Rejection is { } rejection)
        {
            // A commit that failed, answered as its ack was about to leave.
            var answer = acks.AcksCarryReasonCodes ? $"reason code 0x{(int)CodeFor(rejection):x2}" : "disconnect (MQTT 3.1.1)";
            metrics.Increment("mqtt_publishes_refused_total");
            LogRefused(e.ClientId, verdict.Message.Message.Topic, answer, rejection.Message);
        }
    }

    private static void SetReasonCode(MqttPacket ack, MqttPubAckReasonCode code, string reason)
    {
        if (ack is MqttPubAckPacket pubAck)
        {
            pubAck.ReasonCode = code;
            pubAck.ReasonString = reason;
        }
        else if (ack is MqttPubRecPacket pubRec)
        {
            pubRec.ReasonCode = (MqttPubRecReasonCode)(int)code; // the same values for these codes
            pubRec.ReasonString = reason;
        }
    }

    /// <summary>
    /// A QoS 0 publish refused on MQTT 3.1.1 while acks wait: the connection is closed once they have
    /// left, not at once, which would lose them (the client would send those stored messages again).
    /// The receive loop waits here, so nothing after the refused publish is read.
    /// </summary>
    private static async Task CloseAfterEarlierAcksAsync(InterceptingPublishEventArgs e, AckSequencer<StoredPublish> acks)
    {
        try
        {
            await acks.WaitForEarlierAcksAsync(e.CancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// To STOMP subscribers (the local bus) and MQTT subscribers, as MQTTnet would have on arrival.
    /// Best effort: the message is stored and its ack must still leave, whatever happens here.
    /// </summary>
    private async Task DeliverLocallyAsync(StoredPublish stored)
    {
        var (message, application) = stored;
        try
        {
            await PublishLocallyAsync(message).ConfigureAwait(false);
            if (Server is not { IsStarted: true } server) return; // stopping: the store has it
            application.Payload = new ReadOnlySequence<byte>(message.Payload);
            await MqttListenerService.DeliverAsync(server, application, message.ClientId, message.ReceivedAt).ConfigureAwait(false);
            if (Sessions is { } sessions) await sessions.WhenDurableAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            metrics.Increment("local_delivery_failures_total");
            LogLocalDeliveryFailed(message.Topic, ex.Message);
        }
    }

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
}
