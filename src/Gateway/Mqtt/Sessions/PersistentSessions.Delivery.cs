using System.Runtime.CompilerServices;
using Gateway.Core.Diagnostics;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt.Sessions;

/// <summary>The message side: queueing for dormant sessions, recording what MQTTnet queues, sends and has acknowledged.</summary>
internal sealed partial class PersistentSessions
{
    /// <summary>
    /// Which dormant sessions a message was queued for while it was being delivered: MQTTnet may offer
    /// it to one of them again if its client resumed meanwhile, and it must not be queued twice.
    /// </summary>
    private readonly ConditionalWeakTable<MqttApplicationMessage, HashSet<string>> _queuedWhileDormant = [];

    /// <summary>
    /// False once a scan found no dormant session: sessions become dormant only when read back at start
    /// (<see cref="Attach"/>), so from then on a publish takes neither the store's lock nor a walk of every session.
    /// </summary>
    private volatile bool _maybeDormant = true;

    /// <summary>
    /// Every publish MQTTnet goes on to deliver (the gateway's local delivery of what it stored, QoS 0
    /// publishes, wills): queued for each dormant session it matches; QoS 0 is not (MQTT 5 section 4.1 leaves it optional).
    /// </summary>
    private Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!_maybeDormant || !e.ProcessPublish || message is null || message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce) return Task.CompletedTask;
        lock (store.Gate)
        {
            var now = DateTimeOffset.UtcNow;
            var dormant = false;
            foreach (var kept in store.State.Sessions.Values)
            {
                if (kept.Presence != SessionPresence.Dormant) continue;
                dormant = true;
                if (kept.Match(message, e.ClientId) is not { } match) continue;
                if (match.Qos == MqttQualityOfServiceLevel.AtMostOnce) continue;
                Queue(kept, message, match, now);
                _queuedWhileDormant.GetOrCreateValue(message).Add(kept.ClientId);
            }
            if (!dormant) _maybeDormant = false;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// MQTTnet is about to queue a message for a session: recorded for a live kept one before it is queued
    /// (the publisher's ack waits for the record to be on disk); refused for a dormant one, whose messages the gateway queues.
    /// </summary>
    private Task OnEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!e.AcceptEnqueue) return Task.CompletedTask; // refused before (expired): MQTTnet does not queue it, nor do we
        lock (store.Gate)
        {
            if (!store.State.Sessions.TryGetValue(e.ReceiverClientId, out var kept)) return Task.CompletedTask;
            var queuedAlready = _queuedWhileDormant.TryGetValue(e.ApplicationMessage, out var ids) && ids.Contains(kept.ClientId);
            if (kept.Presence == SessionPresence.Dormant || queuedAlready)
            {
                e.AcceptEnqueue = false;
                return Task.CompletedTask;
            }
            if (kept.Match(e.ApplicationMessage, e.SenderClientId) is { Qos: > MqttQualityOfServiceLevel.AtMostOnce } match)
                Queue(kept, e.ApplicationMessage, match, DateTimeOffset.UtcNow);
        }
        return Task.CompletedTask;
    }

    /// <summary>Keeps <paramref name="message"/> for <paramref name="kept"/>; the oldest go beyond the bound, counted, one warning per episode.</summary>
    private void Queue(KeptSession kept, MqttApplicationMessage message, (MqttQualityOfServiceLevel Qos, bool Retain) match, DateTimeOffset now)
    {
        var stored = KeptMessage.From(store.State.NextSeq(), message, match.Qos, now) with { Retain = match.Retain };
        var dropped = store.Enqueue(kept, stored, Bound);
        if (dropped == 0) return;
        metrics.Increment("mqtt_session_messages_dropped_total", "", dropped);
        if (kept.DropLogged) return;
        kept.DropLogged = true;
        LogQueueFull(kept.ClientId, Bound);
    }

    private Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck) return OnConnAckAsync(e, connAck);
        if (e.Packet is not MqttPublishPacket { QualityOfServiceLevel: > MqttQualityOfServiceLevel.AtMostOnce } publish) return Task.CompletedTask;
        lock (store.Gate)
        {
            if (!store.State.Sessions.TryGetValue(e.ClientId, out var kept) || kept.InFlight.ContainsKey(publish.PacketIdentifier)) return Task.CompletedTask;
            // MQTTnet sends a session's messages in the order it queued them, and the kept queue is in that
            // order: the first one not yet sent that carries this publish's topic and payload is the one.
            if (kept.TakeUnsent(publish) is { } seq) kept.InFlight[publish.PacketIdentifier] = seq;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// The client's PUBACK (QoS 1) or PUBREC (QoS 2) ends the gateway's keeping of the message: from PUBREC on
    /// the client owns it (MQTT 5 section 4.3.3). Not waited for: after a crash the message is sent again, as QoS 1 allows.
    /// </summary>
    private Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        ushort packetId;
        if (e.Packet is MqttPubAckPacket pubAck) packetId = pubAck.PacketIdentifier;
        else if (e.Packet is MqttPubRecPacket pubRec) packetId = pubRec.PacketIdentifier;
        else return Task.CompletedTask;
        lock (store.Gate)
        {
            if (!store.State.Sessions.TryGetValue(e.ClientId, out var kept) || !kept.InFlight.Remove(packetId, out var seq)) return Task.CompletedTask;
            store.Record(new StateRecord(StateRecordKind.Removed, kept.ClientId, Number: seq));
        }
        return Task.CompletedTask;
    }

    private Task OnSubscribedAsync(ClientSubscribedTopicEventArgs e)
    {
        lock (store.Gate)
        {
            // A dormant session's subscriptions are being restored: they are the kept ones already.
            if (store.State.Sessions.TryGetValue(e.ClientId, out var kept) && kept.Presence == SessionPresence.Live)
                store.Record(new StateRecord(StateRecordKind.Subscribed, e.ClientId, Subscription: KeptSubscription.From(e.TopicFilter)));
        }
        return Task.CompletedTask;
    }

    private Task OnUnsubscribedAsync(ClientUnsubscribedTopicEventArgs e)
    {
        lock (store.Gate)
        {
            if (store.State.Sessions.TryGetValue(e.ClientId, out var kept) && kept.Subscriptions.ContainsKey(e.TopicFilter))
                store.Record(new StateRecord(StateRecordKind.Unsubscribed, e.ClientId, Filter: e.TopicFilter));
        }
        return Task.CompletedTask;
    }

    [LoggerMessage(EventIds.MqttSessionQueueFull, LogLevel.Warning, "MQTT session of {ClientId} holds {Bound} queued messages (Gateway:Mqtt:MaxPendingMessagesPerClient): the oldest are dropped, counted in mqtt_session_messages_dropped_total, until its client resumes")]
    private partial void LogQueueFull(string clientId, int bound);
}
