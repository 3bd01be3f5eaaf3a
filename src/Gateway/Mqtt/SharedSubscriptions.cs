using System.Buffers;
using System.Collections.Concurrent;
using Gateway.Core.Diagnostics;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Shared subscriptions, <c>$share/{group}/{filter}</c> (MQTT 5.0 section 4.8.2; MQTT 3.1.1 clients may
/// use them too, as Mosquitto allows), built around MQTTnet, which refuses them: the filter is kept in
/// the session as a stand-in (<see cref="SharedSubscriptionFilter.Marker"/>) that matches nothing, and
/// each message MQTTnet is about to deliver goes to one member of each matching group, enqueued in that
/// member's session as MQTTnet would.
/// </summary>
/// <remarks>
/// A member's unacknowledged QoS 1/2 deliveries (its PUBLISH packet identifiers, until its PUBACK or
/// PUBREC) are sent to another connected member of the group when its connection ends. Its own session,
/// if kept, still holds them and MQTTnet sends them again when it comes back (MQTT 5.0 4.8.2 allows
/// either; the gateway does both, so a message may reach the group twice: at least once, never lost).
/// </remarks>
internal sealed partial class SharedSubscriptions(GatewayMetrics metrics, ILogger<SharedSubscriptions> logger)
{
    private readonly SharedSubscriptionRegistry _registry = new();

    /// <summary>Each client's session, as MQTTnet last showed it: a pick enqueues without a scan of all sessions.</summary>
    private readonly ConcurrentDictionary<string, MqttSessionStatus> _sessions = new(StringComparer.Ordinal);

    /// <summary>MQTT 5 subscription identifiers of shared filters between the SUBSCRIBE and MQTTnet's report of it.</summary>
    private readonly ConcurrentDictionary<(string ClientId, string Marker), uint> _identifiers = new();

    public MqttServer? Server { get; set; }

    /// <summary>Whether a member (client id) may receive a message on a topic (the ACL); these deliveries bypass MQTTnet's enqueue interceptor.</summary>
    public Func<string, string, bool>? MayReceive { get; set; }

    public void Register(MqttServer server)
    {
        Server = server;
        metrics.Gauge("mqtt_shared_subscriptions", "", () => _registry.MemberCount);
        metrics.Gauge("mqtt_shared_unacknowledged", "", () => _registry.UnacknowledgedCount);
        server.InterceptingInboundPacketAsync += OnInboundPacketAsync;
        server.InterceptingOutboundPacketAsync += OnOutboundPacketAsync;
        server.InterceptingSubscriptionAsync += OnSubscribingAsync;
        server.ClientSubscribedTopicAsync += OnSubscribedAsync;
        server.ClientUnsubscribedTopicAsync += OnUnsubscribedAsync;
        server.ClientConnectedAsync += OnConnectedAsync;
        server.ClientDisconnectedAsync += OnDisconnectedAsync;
        server.SessionDeletedAsync += OnSessionDeletedAsync;
    }

    /// <summary>
    /// A SUBSCRIBE or UNSUBSCRIBE: <c>$share/</c> filters become their stand-ins before MQTTnet reads them.
    /// A PUBACK (QoS 1) or PUBREC (QoS 2, the message is the receiver's from then on) settles a shared delivery.
    /// </summary>
    private Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        switch (e.Packet)
        {
            case MqttSubscribePacket subscribe:
                return RewriteSubscribeAsync(e, subscribe);
            case MqttUnsubscribePacket unsubscribe:
                for (var i = 0; i < unsubscribe.TopicFilters.Count; i++)
                    if (SharedSubscriptionFilter.TryParse(unsubscribe.TopicFilters[i], out var shared)) unsubscribe.TopicFilters[i] = shared.Marker;
                break;
            case MqttPubAckPacket pubAck:
                _registry.Settle(e.ClientId, pubAck.PacketIdentifier);
                break;
            case MqttPubRecPacket pubRec:
                _registry.Settle(e.ClientId, pubRec.PacketIdentifier);
                break;
        }
        return Task.CompletedTask;
    }

    private Task RewriteSubscribeAsync(InterceptingPacketEventArgs e, MqttSubscribePacket subscribe)
    {
        foreach (var filter in subscribe.TopicFilters)
        {
            if (!SharedSubscriptionFilter.IsShared(filter.Topic)) continue;
            if (filter.NoLocal)
            {
                // MQTT-3.8.3-4: No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82, no SUBACK.
                e.ProcessPacket = false;
                LogProtocolError(e.ClientId, filter.Topic);
                return CloseAsync(e.ClientId, e.RemoteEndPoint, MqttDisconnectReasonCode.ProtocolError);
            }
            if (!SharedSubscriptionFilter.TryParse(filter.Topic, out var shared))
            {
                filter.Topic = SharedSubscriptionFilter.InvalidMarker; // refused in OnSubscribingAsync with 0x8F
                continue;
            }
            filter.Topic = shared.Marker;
            if (subscribe.SubscriptionIdentifier > 0) _identifiers[(e.ClientId, shared.Marker)] = subscribe.SubscriptionIdentifier;
        }
        return Task.CompletedTask;
    }

    /// <summary>MQTT 5 CONNACK: shared subscriptions are available (3.2.2.3.15). A new session starts in no group.</summary>
    private Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is not MqttConnAckPacket connAck || connAck.ReasonCode != MqttConnectReasonCode.Success) return Task.CompletedTask;
        connAck.SharedSubscriptionAvailable = true;
        // A clean start replaces an earlier session without MQTTnet reporting its end: its groups go with it.
        if (!connAck.IsSessionPresent)
        {
            _registry.RemoveClient(e.ClientId);
            _sessions.TryRemove(e.ClientId, out _);
        }
        return Task.CompletedTask;
    }

    private Task OnSubscribingAsync(InterceptingSubscriptionEventArgs e)
    {
        if (e.TopicFilter.Topic == SharedSubscriptionFilter.InvalidMarker)
        {
            // MQTT-4.8.2-1/2 broken: refused for this filter (MQTT 3.1.1: 0x80), the others go on.
            e.Response.ReasonCode = MqttSubscribeReasonCode.TopicFilterInvalid;
            e.ProcessSubscription = false;
        }
        else if (SharedSubscriptionFilter.TryParseMarker(e.TopicFilter.Topic, out _))
        {
            _sessions[e.ClientId] = e.Session;
        }
        return Task.CompletedTask;
    }

    private Task OnSubscribedAsync(ClientSubscribedTopicEventArgs e)
    {
        if (!SharedSubscriptionFilter.TryParseMarker(e.TopicFilter.Topic, out var group)) return Task.CompletedTask;
        _identifiers.TryRemove((e.ClientId, e.TopicFilter.Topic), out var identifier);
        _registry.Add(group, new SharedMember(e.ClientId, e.TopicFilter.QualityOfServiceLevel, e.TopicFilter.RetainAsPublished, identifier));
        LogJoined(e.ClientId, group.ToString());
        return Task.CompletedTask;
    }

    private Task OnUnsubscribedAsync(ClientUnsubscribedTopicEventArgs e)
    {
        if (SharedSubscriptionFilter.TryParseMarker(e.TopicFilter, out var group)) _registry.Remove(group, e.ClientId);
        return Task.CompletedTask;
    }

    private Task OnConnectedAsync(ClientConnectedEventArgs e)
    {
        _registry.SetConnected(e.ClientId, true);
        return Task.CompletedTask;
    }

    private Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        _registry.RemoveClient(e.Id);
        _sessions.TryRemove(e.Id, out _);
        return Task.CompletedTask;
    }

    /// <summary>
    /// MQTTnet is about to deliver this message to its subscribers (the publish interceptors before this
    /// one let it through): each matching share group gets it once, through one member.
    /// </summary>
    public Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        if (!e.ProcessPublish || _registry.IsEmpty || e.ApplicationMessage is not { Topic.Length: > 0 } message) return Task.CompletedTask;
        MqttApplicationMessage? kept = null;
        lock (_registry.Sync)
        {
            foreach (var (group, member) in _registry.PickFor(message.Topic))
            {
                // MQTTnet may reuse the publish's buffer once the interceptors return: the copies share one of their own.
                kept ??= CopyOf(message, message.Payload.IsEmpty ? [] : message.Payload.ToArray(), message.QualityOfServiceLevel, message.Retain);
                Enqueue(group, member, kept);
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Into the member's session, with the lower of the message's and the granted QoS (MQTT-3.8.4-8), as
    /// MQTTnet enqueues for a plain subscription. Under the registry's lock, so the receiver's ack cannot
    /// be read before the delivery is recorded.
    /// </summary>
    private bool Enqueue(SharedSubscriptionFilter group, SharedMember member, MqttApplicationMessage kept)
    {
        if (MayReceive is { } mayReceive && !mayReceive(member.ClientId, kept.Topic)) return false; // counted by the ACL
        var qos = (MqttQualityOfServiceLevel)Math.Min((int)kept.QualityOfServiceLevel, (int)member.Qos);
        // MQTT-3.3.1-12/13: the retain flag as published only where the subscription asked for it.
        var copy = CopyOf(kept, kept.Payload.First, qos, member.RetainAsPublished && kept.Retain);
        if (member.SubscriptionIdentifier > 0) copy.SubscriptionIdentifiers = [member.SubscriptionIdentifier];
        if (!_sessions.TryGetValue(member.ClientId, out var session) || !session.TryEnqueueApplicationMessage(copy, out var result))
        {
            // No session known for it, or its queue is full (Gateway:Mqtt:MaxPendingMessagesPerClient), as for any subscriber.
            metrics.Increment("mqtt_shared_deliveries_dropped_total");
            return false;
        }
        metrics.Increment("mqtt_shared_deliveries_total");
        // Only a connected member's: one that is away gets it from its session when it returns, under a
        // packet identifier MQTTnet gives it then, and owes nothing until it is connected.
        if (qos > MqttQualityOfServiceLevel.AtMostOnce && _registry.IsConnected(member.ClientId))
            _registry.Track(member.ClientId, result.PacketIdentifier, new SharedDelivery(group, kept));
        return true;
    }

    private static MqttApplicationMessage CopyOf(MqttApplicationMessage m, ReadOnlyMemory<byte> payload, MqttQualityOfServiceLevel qos, bool retain) => new()
    {
        Topic = m.Topic,
        Payload = new ReadOnlySequence<byte>(payload),
        QualityOfServiceLevel = qos,
        Retain = retain,
        ContentType = m.ContentType,
        CorrelationData = m.CorrelationData,
        MessageExpiryInterval = m.MessageExpiryInterval,
        PayloadFormatIndicator = m.PayloadFormatIndicator,
        ResponseTopic = m.ResponseTopic,
        UserProperties = m.UserProperties,
    };
}
