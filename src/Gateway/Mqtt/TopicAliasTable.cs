namespace Gateway.Mqtt;

/// <summary>
/// The topic aliases the gateway has told one connection about (MQTT 5, section 3.3.2.3.4): at most the
/// client's Topic Alias Maximum of them, numbered from 1 [MQTT-3.3.2-9]; when all are taken, the one
/// used longest ago is given to the new topic, which the PUBLISH that reassigns it carries in full.
/// Scoped to one network connection [MQTT-3.3.2-7]; not thread-safe (its <see cref="OutboundFlow"/> serialises).
/// </summary>
internal sealed class TopicAliasTable
{
    private readonly Dictionary<string, LinkedListNode<(string Topic, ushort Alias)>> _byTopic = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Topic, ushort Alias)> _leastRecentFirst = new();
    private readonly Stack<ushort> _freed = new();
    private readonly ushort _maximum;
    private ushort _issued;

    public TopicAliasTable(ushort maximum)
    {
        ArgumentOutOfRangeException.ThrowIfZero(maximum);
        _maximum = maximum;
    }

    public int Count => _byTopic.Count;

    /// <summary>The alias the client already knows for <paramref name="topic"/>, if any; marks it as just used.</summary>
    public bool TryGet(string topic, out ushort alias)
    {
        if (!_byTopic.TryGetValue(topic, out var node))
        {
            alias = 0;
            return false;
        }
        _leastRecentFirst.Remove(node);
        _leastRecentFirst.AddLast(node);
        alias = node.Value.Alias;
        return true;
    }

    /// <summary>An alias for a topic the client does not know yet: a free one, else the least recently used one's.</summary>
    public ushort Assign(string topic)
    {
        ushort alias;
        if (_freed.Count > 0) alias = _freed.Pop();
        else if (_issued < _maximum) alias = ++_issued;
        else
        {
            var oldest = _leastRecentFirst.First!;
            _leastRecentFirst.RemoveFirst();
            _byTopic.Remove(oldest.Value.Topic);
            alias = oldest.Value.Alias;
        }
        _byTopic[topic] = _leastRecentFirst.AddLast((topic, alias));
        return alias;
    }

    /// <summary>
    /// Takes back an alias whose PUBLISH never left (discarded as too large): the client does not know it, so
    /// the next topic to get it must carry the topic in full, which <see cref="Assign"/> makes sure of.
    /// </summary>
    public void Forget(string topic)
    {
        if (!_byTopic.Remove(topic, out var node)) return;
        _leastRecentFirst.Remove(node);
        _freed.Push(node.Value.Alias);
    }
}
