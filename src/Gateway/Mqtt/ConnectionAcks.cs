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
    /// How many acks may wait at once: the receive loop reads no further publish until one is on its way out,
    /// so a client that sends without reading its acks holds at most this many messages here.
    /// </summary>
    public const int MaxPending = 256;

    private readonly Dictionary<ushort, PendingAck> _pending = [];
    private TaskCompletionSource? _waiter;
    private int _waiterLimit;

    public bool IsV5 { get; } = isV5;

    private ushort _arriving;
    private bool _hasArriving;

    /// <summary>Notes the packet identifier of the publish the receive loop is about to hand to the publish interceptor (0 for QoS 0).</summary>
    public void Arrive(ushort packetId)
    {
        _arriving = packetId;
        _hasArriving = true;
    }

    /// <summary>
    /// The packet identifier noted by <see cref="Arrive"/>, once. False for a publish that did not come
    /// through the receive loop.
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

    public void Add(ushort packetId, PendingAck pending)
    {
        lock (_pending) _pending[packetId] = pending;
    }

    public bool TryGet(ushort packetId, out PendingAck pending)
    {
        lock (_pending) return _pending.TryGetValue(packetId, out pending!);
    }

    /// <summary>The ack has left (or never will) and its message has been delivered: its entry goes, making room.</summary>
    public void Done(ushort packetId)
    {
        TaskCompletionSource? waiter = null;
        lock (_pending)
        {
            _pending.Remove(packetId);
            if (_waiter is not null && _pending.Count < _waiterLimit)
            {
                waiter = _waiter;
                _waiter = null;
            }
        }
        waiter?.TrySetResult();
    }

    /// <summary>
    /// Completes once fewer than <paramref name="limit"/> acks wait: at once if that is so already.
    /// With a limit of 1, once every earlier publish of the connection has been delivered and acked.
    /// One waiter at a time: the connection's receive loop.
    /// </summary>
    public Task WaitUntilFewerThanAsync(int limit, CancellationToken cancellationToken)
    {
        lock (_pending)
        {
            if (_pending.Count < limit) return Task.CompletedTask;
            _waiterLimit = limit;
            // Its continuation is the receive loop's: not to be run on the send loop that frees the room.
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task.WaitAsync(cancellationToken);
        }
    }
}

/// <summary>
/// What an ack waits for: <paramref name="Stored"/> (null when the answer was settled on arrival:
/// a refusal's reason code, or nothing to store), then the local delivery of the message.
/// </summary>
internal sealed record PendingAck(Task? Stored, IncomingMessage? Message, MqttApplicationMessage? Application);
