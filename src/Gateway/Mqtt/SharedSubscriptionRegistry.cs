using MQTTnet;
using MQTTnet.Protocol;

namespace Gateway.Mqtt;

/// <summary>One client's membership of a share group: what it was granted, as a plain subscription would be.</summary>
internal sealed record SharedMember(string ClientId, MqttQualityOfServiceLevel Qos, bool RetainAsPublished, uint SubscriptionIdentifier);

/// <summary>A shared delivery that waits for its receiver's PUBACK (QoS 1) or PUBREC (QoS 2).</summary>
internal sealed record SharedDelivery(SharedSubscriptionFilter Group, MqttApplicationMessage Message);

/// <summary>
/// The share groups (MQTT 5.0 section 4.8.2), with no MQTTnet session in it: who belongs to which group,
/// who is connected, whose turn is next, and which deliveries each member has not acknowledged yet.
/// </summary>
/// <remarks>
/// Thread-safe under one lock: publishes of many connections pick members at once, and a pick and the
/// recording of its delivery must not be split by the receiver's ack (see <see cref="SharedSubscriptions"/>).
/// </remarks>
internal sealed class SharedSubscriptionRegistry
{
    private readonly Dictionary<SharedSubscriptionFilter, Group> _groups = [];
    private readonly HashSet<string> _connected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<ushort, SharedDelivery>> _unacknowledged = new(StringComparer.Ordinal);
    private int _groupCount;

    /// <summary>The lock every caller that must pick and record in one step takes (<see cref="SharedSubscriptions"/>).</summary>
    public object Sync => _groups;

    /// <summary>No group: the usual case, checked per publish without the lock.</summary>
    public bool IsEmpty => Volatile.Read(ref _groupCount) == 0;

    /// <summary>Adds or replaces the member (a second SUBSCRIBE to the same shared filter replaces the first, MQTT-3.8.4-3).</summary>
    public void Add(SharedSubscriptionFilter group, SharedMember member)
    {
        lock (Sync)
        {
            if (!_groups.TryGetValue(group, out var g)) _groups[group] = g = new Group();
            var i = g.Members.FindIndex(m => m.ClientId == member.ClientId);
            if (i >= 0) g.Members[i] = member;
            else g.Members.Add(member);
            Volatile.Write(ref _groupCount, _groups.Count);
        }
    }

    public void Remove(SharedSubscriptionFilter group, string clientId)
    {
        lock (Sync)
        {
            if (!_groups.TryGetValue(group, out var g)) return;
            g.Members.RemoveAll(m => m.ClientId == clientId);
            if (g.Members.Count == 0) _groups.Remove(group);
            Volatile.Write(ref _groupCount, _groups.Count);
        }
    }

    /// <summary>The client's session is gone (deleted, or replaced by a clean start): it leaves every group.</summary>
    public void RemoveClient(string clientId)
    {
        lock (Sync)
        {
            foreach (var (key, g) in _groups.ToArray())
            {
                g.Members.RemoveAll(m => m.ClientId == clientId);
                if (g.Members.Count == 0) _groups.Remove(key);
            }
            Volatile.Write(ref _groupCount, _groups.Count);
        }
    }

    /// <summary>Memberships in all groups (a gauge at <c>/metrics</c>; tests wait on it).</summary>
    public int MemberCount
    {
        get
        {
            lock (Sync) return _groups.Values.Sum(g => g.Members.Count);
        }
    }

    public void SetConnected(string clientId, bool connected)
    {
        lock (Sync)
        {
            if (connected) _connected.Add(clientId);
            else _connected.Remove(clientId);
        }
    }

    public bool IsConnected(string clientId)
    {
        lock (Sync) return _connected.Contains(clientId);
    }

    /// <summary>
    /// For a message on <paramref name="topic"/>: one member of each group whose filter matches. The
    /// next connected member in turn (round robin); with none connected, the next member in turn whose
    /// session is kept (the message waits in it). Call under <see cref="Sync"/>.
    /// </summary>
    public List<(SharedSubscriptionFilter Group, SharedMember Member)> PickFor(string topic)
    {
        var picks = new List<(SharedSubscriptionFilter, SharedMember)>();
        foreach (var (key, g) in _groups)
        {
            if (MqttTopicFilterComparer.Compare(topic, key.TopicFilter) != MqttTopicFilterCompareResult.IsMatch) continue;
            if (Next(g, exceptClientId: null) is { } member) picks.Add((key, member));
        }
        return picks;
    }

    /// <summary>
    /// Another member of the group than <paramref name="exceptClientId"/>, in turn: a connected one, or
    /// with <paramref name="orAway"/> one whose session waits for it; null when there is none. Call under <see cref="Sync"/>.
    /// </summary>
    public SharedMember? NextOther(SharedSubscriptionFilter group, string exceptClientId, bool orAway = false)
    {
        if (!_groups.TryGetValue(group, out var g)) return null;
        if (Next(g, exceptClientId) is { } connected) return connected;
        if (!orAway) return null;
        var others = g.Members.FindAll(m => m.ClientId != exceptClientId);
        return others.Count == 0 ? null : others[0];
    }

    /// <summary>Records a delivery waiting for its ack. Call under <see cref="Sync"/>, in the same step as the pick.</summary>
    public void Track(string clientId, ushort packetId, SharedDelivery delivery)
    {
        if (!_unacknowledged.TryGetValue(clientId, out var waiting)) _unacknowledged[clientId] = waiting = [];
        waiting[packetId] = delivery;
    }

    /// <summary>The receiver acknowledged <paramref name="packetId"/>: nothing to redeliver for it.</summary>
    public bool Settle(string clientId, ushort packetId)
    {
        lock (Sync) return _unacknowledged.TryGetValue(clientId, out var waiting) && waiting.Remove(packetId);
    }

    /// <summary>The deliveries the client had not acknowledged when its connection ended, oldest first; forgotten here.</summary>
    public List<SharedDelivery> TakeUnacknowledged(string clientId)
    {
        lock (Sync)
        {
            if (!_unacknowledged.Remove(clientId, out var waiting)) return [];
            return waiting.OrderBy(w => w.Key).Select(w => w.Value).ToList();
        }
    }

    /// <summary>Shared deliveries waiting for their ack, all members together (a gauge at <c>/metrics</c>).</summary>
    public int UnacknowledgedCount
    {
        get
        {
            lock (Sync) return _unacknowledged.Values.Sum(w => w.Count);
        }
    }

    /// <summary>
    /// Round robin: the member after the last one picked, connected ones first; with none connected
    /// (and no exception asked for) the next one whose session waits for it.
    /// </summary>
    private SharedMember? Next(Group g, string? exceptClientId)
    {
        var count = g.Members.Count;
        for (var step = 1; step <= count; step++)
        {
            var candidate = g.Members[(g.Last + step) % count];
            if (candidate.ClientId == exceptClientId || !_connected.Contains(candidate.ClientId)) continue;
            g.Last = (g.Last + step) % count;
            return candidate;
        }
        if (exceptClientId is not null || count == 0) return null;
        g.Last = (g.Last + 1) % count;
        return g.Members[g.Last];
    }

    private sealed class Group
    {
        public readonly List<SharedMember> Members = [];

        /// <summary>The index of the member picked last; the next pick starts after it.</summary>
        public int Last = -1;
    }
}
