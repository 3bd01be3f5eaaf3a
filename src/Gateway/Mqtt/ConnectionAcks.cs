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
    private ushort _arriving;
    private bool _hasArriving;
    private long _added;
    private bool _watchingEnd;

    public bool IsV5 { get; } = isV5;

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
    /// Set once an ack could not be answered (a failed commit on MQTT 3.1.1, which has no negative
    /// ack; a failure the outbox does not name, on either version): no ack may follow, as acks go
    /// out in order, and the connection is being closed.
    /// </summary>
    public bool Refused { get; set; }

    /// <summary>
    /// Set by the receive loop when it refuses a publish on arrival on MQTT 3.1.1: the connection is
    /// closed when that publish's turn comes in the send loop, once the acks before it have left, and
    /// what the receive loop reads meanwhile is neither stored nor acknowledged: the client sends its
    /// QoS 1/2 publishes again, and QoS 0 ones are lost, as they would be to a close at once.
    /// </summary>
    public bool Closing { get; set; }

    /// <summary>
    /// What the connection's end set going: the local delivery of the messages whose acks had not
    /// left (<see cref="WatchEnd"/>). A will waits for it, so it does not overtake them.
    /// </summary>
    public Task Ended { get; private set; } = Task.CompletedTask;

    public void Add(ushort packetId, PendingAck pending)
    {
        lock (_pending)
        {
            pending.Order = ++_added;
            _pending[packetId] = pending;
        }
    }

    /// <summary>
    /// Once, when the connection ends (its token is cancelled), hands <paramref name="deliver"/> the
    /// stored messages whose acks had not left, oldest first: MQTTnet's send loop stops then, and they
    /// would not reach local subscribers otherwise. Called from the receive loop only.
    /// </summary>
    public void WatchEnd(CancellationToken connection, Func<string, IReadOnlyList<PendingAck>, Task> deliver, string clientId)
    {
        if (_watchingEnd) return;
        _watchingEnd = true;
        connection.UnsafeRegister(_ => Ended = deliver(clientId, Remaining()), null);
    }

    private List<PendingAck> Remaining()
    {
        lock (_pending) return [.. _pending.Values.Where(p => p.Stored is not null).OrderBy(p => p.Order)];
    }

    /// <summary>Whether any ack is still to leave.</summary>
    public bool HasPending
    {
        get
        {
            lock (_pending) return _pending.Count > 0;
        }
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
/// What an ack waits for: <see cref="Stored"/> (null when the answer was settled on arrival: a
/// refusal's reason code, or nothing to store), then the local delivery of the message.
/// </summary>
internal sealed class PendingAck(Task? stored, IncomingMessage? message, MqttApplicationMessage? application)
{
    private Task? _delivery;
    private bool _delivering;

    public Task? Stored { get; } = stored;
    public IncomingMessage? Message { get; } = message;
    public MqttApplicationMessage? Application { get; } = application;

    /// <summary>When the publish was queued for the store (<see cref="System.Diagnostics.Stopwatch"/> ticks): its ack's wait is measured from here.</summary>
    public long Arrived { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>Arrival order on its connection.</summary>
    public long Order { get; set; }

    /// <summary>
    /// Delivers it locally once, whoever asks first (its ack's send loop, or the connection's end);
    /// a later caller gets the same delivery to wait for, so it cannot be overtaken.
    /// </summary>
    public Task DeliverOnce(Func<PendingAck, string, Task> deliver, string clientId)
    {
        if (Volatile.Read(ref _delivery) is { } started) return started;
        lock (this)
        {
            if (_delivery is { } begun) return begun;
            if (_delivering) return Task.CompletedTask; // asked again from inside its own delivery (the lock is re-entrant)
            _delivering = true;
            return _delivery = deliver(this, clientId);
        }
    }
}
