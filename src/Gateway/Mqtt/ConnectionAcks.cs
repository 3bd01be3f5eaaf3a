using Gateway.Core.Messages;
using MQTTnet;

namespace Gateway.Mqtt;

/// <summary>
/// One MQTT connection's publishes (QoS 1/2) whose PUBACK or PUBREC waits in MQTTnet's send loop
/// for their commit, by packet identifier. A new one is put in the session's items by every
/// CONNECT, so nothing of an earlier connection of the same session is taken for this one's.
/// </summary>
/// <remarks>
/// Written by the connection's receive loop (a publish arrives) and read by its send loop (its ack
/// is about to leave); the lock is never held across an await.
/// </remarks>
internal sealed class ConnectionAcks(bool isV5)
{
    /// <summary>
    /// How many acks may wait for their commits at once before a publish's own commit is awaited in
    /// the receive loop: a client that pipelines without reading its acks is slowed to the commit
    /// rate instead of filling memory.
    /// </summary>
    public const int MaxPending = 256;

    private readonly Dictionary<ushort, PendingAck> _pending = [];

    public bool IsV5 { get; } = isV5;

    private ushort _arriving;
    private bool _hasArriving;

    /// <summary>Notes the packet identifier of the QoS 1/2 publish the receive loop is about to hand to the publish interceptor.</summary>
    public void Arrive(ushort packetId)
    {
        _arriving = packetId;
        _hasArriving = true;
    }

    /// <summary>
    /// The packet identifier noted by <see cref="Arrive"/>, once. False for a publish that did not come
    /// through the receive loop (MQTTnet's will message, published after the connection is gone).
    /// </summary>
    public bool TakeArriving(out ushort packetId)
    {
        packetId = _arriving;
        var had = _hasArriving;
        _hasArriving = false;
        return had;
    }

    /// <summary>
    /// Set once a commit failed on an MQTT 3.1.1 connection: it has no negative ack, so no ack may
    /// follow (acks go out in order) and the connection is being closed.
    /// </summary>
    public bool Refused { get; set; }

    public int Count
    {
        get { lock (_pending) return _pending.Count; }
    }

    public void Add(ushort packetId, PendingAck pending)
    {
        lock (_pending) _pending[packetId] = pending;
    }

    public bool TryTake(ushort packetId, out PendingAck pending)
    {
        lock (_pending) return _pending.Remove(packetId, out pending!);
    }
}

/// <summary>
/// What an ack waits for: <paramref name="Stored"/> (null when the answer was settled on arrival,
/// a refusal's reason code or nothing to store), then the local delivery of the message.
/// </summary>
internal sealed record PendingAck(Task? Stored, IncomingMessage? Message, MqttApplicationMessage? Application);
