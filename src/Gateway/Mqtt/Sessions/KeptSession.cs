using MQTTnet;
using MQTTnet.Protocol;

namespace Gateway.Mqtt.Sessions;

/// <summary>Where a kept session lives now.</summary>
internal enum SessionPresence
{
    /// <summary>Known to the gateway only (read back after a restart): the gateway queues its messages.</summary>
    Dormant,

    /// <summary>MQTTnet has it and queues for it; the gateway records what MQTTnet queues.</summary>
    Live,
}

/// <summary>
/// A persistent session as the gateway keeps it (MQTT 5 section 4.1: subscriptions, and QoS 1/2 messages
/// queued or sent and not yet acknowledged). Changed only under <see cref="MqttStateStore"/>'s lock.
/// </summary>
internal sealed class KeptSession(string clientId, uint expiryIntervalSeconds)
{
    /// <summary>MQTT 5's interval meaning "never expires", and what an MQTT 3.1.1 session without clean session gets.</summary>
    public const uint NeverExpires = uint.MaxValue;

    public string ClientId { get; } = clientId;

    public uint ExpiryIntervalSeconds { get; set; } = expiryIntervalSeconds;

    public Dictionary<string, KeptSubscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Oldest first: the order they go out in.</summary>
    public SortedDictionary<long, KeptMessage> Queue { get; } = [];

    /// <summary>When its last connection ended; null while connected (or, read back, when it was connected at the crash).</summary>
    public DateTimeOffset? DisconnectedAt { get; set; }

    // Runtime state only, never written.

    public SessionPresence Presence { get; set; } = SessionPresence.Dormant;

    public bool Connected { get; set; }

    /// <summary>Queued messages MQTTnet has sent with these packet identifiers and the client has not acknowledged yet.</summary>
    public Dictionary<ushort, long> InFlight { get; } = [];

    /// <summary>Whether a drop was logged since the queue last had room: one warning per episode.</summary>
    public bool DropLogged { get; set; }

    /// <summary>Whether it has ended at <paramref name="now"/>: disconnected for longer than its expiry interval (MQTT-3.1.2-23).</summary>
    public bool HasExpired(DateTimeOffset now) =>
        !Connected && DisconnectedAt is { } at && ExpiryIntervalSeconds != NeverExpires && now >= at.AddSeconds(ExpiryIntervalSeconds);

    /// <summary>Queued messages not sent yet, oldest first; entries no longer queued are skipped lazily.</summary>
    public LinkedList<long> Unsent { get; } = new();

    /// <summary>
    /// How <paramref name="message"/> reaches this session, as MQTTnet would send it: the highest QoS
    /// granted among the matching subscriptions, at most the message's (MQTT-3.8.4-8), and its retain flag
    /// kept only where a matching subscription asked for Retain As Published (MQTT-3.3.1-12/13).
    /// Null when no subscription matches.
    /// </summary>
    public (MqttQualityOfServiceLevel Qos, bool Retain)? Match(MqttApplicationMessage message, string senderClientId)
    {
        MqttQualityOfServiceLevel? granted = null;
        var retain = false;
        foreach (var sub in Subscriptions.Values)
        {
            if (sub.NoLocal && senderClientId == ClientId) continue; // MQTT-3.8.3-3
            if (MqttTopicFilterComparer.Compare(message.Topic, sub.Filter) != MqttTopicFilterCompareResult.IsMatch) continue;
            if (granted is null || sub.Qos > granted) granted = sub.Qos;
            retain |= sub.RetainAsPublished && message.Retain;
        }
        if (granted is null) return null;
        return (granted < message.QualityOfServiceLevel ? granted.Value : message.QualityOfServiceLevel, retain);
    }

    /// <summary>Forgets what was sent: MQTTnet sends the unacknowledged ones again, under new packet identifiers, when the client resumes.</summary>
    public void ForgetSent()
    {
        InFlight.Clear();
        Unsent.Clear();
        foreach (var seq in Queue.Keys) Unsent.AddLast(seq);
    }

    /// <summary>How far past the oldest unsent message a publish is looked for: MQTTnet sends in queue order, so it is nearly always the first.</summary>
    private const int UnsentSearchDepth = 64;

    /// <summary>The queued message MQTTnet's outgoing <paramref name="publish"/> carries, taken off the unsent list; null if none.</summary>
    public long? TakeUnsent(MQTTnet.Packets.MqttPublishPacket publish)
    {
        var node = Unsent.First;
        for (var looked = 0; node is not null && looked < UnsentSearchDepth; looked++)
        {
            var next = node.Next;
            if (!Queue.TryGetValue(node.Value, out var message)) Unsent.Remove(node); // acknowledged or dropped meanwhile
            else if (message.IsCarriedBy(publish))
            {
                Unsent.Remove(node);
                return message.Seq;
            }
            node = next;
        }
        return null;
    }
}
