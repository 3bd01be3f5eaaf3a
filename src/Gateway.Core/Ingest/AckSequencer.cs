using System.Diagnostics;
using Gateway.Core.Outbox;

namespace Gateway.Core.Ingest;

/// <summary>
/// The acks of one connection's publishes, in the order the publishes came: each leaves only after
/// its message's commit is on disk and the message has been delivered locally, or carries the
/// refusal of it. Knows no protocol library: an adapter tells it what arrived (from the connection's
/// receive loop) and asks it about each ack as the connection's send loop is about to write it.
/// </summary>
/// <remarks>
/// <para>
/// The send loop writes acks one at a time in arrival order, so one ack waiting for its commit holds
/// every ack behind it. An ack asked for while an earlier one has not been answered would overtake
/// it: it is withheld and the connection closed.
/// </para>
/// <para>
/// Where acks carry no reason code (MQTT 3.1.1), a refusal is a close without an ack: the acks of
/// the stored publishes before it leave first, none after it, and what the receive loop reads
/// meanwhile is neither stored nor acknowledged (<see cref="IsClosing"/>).
/// </para>
/// <para>
/// At most <see cref="MaxWaiting"/> acks wait: the receive loop reads no further publish until one has
/// left (<see cref="WaitForRoomAsync"/>). A publish nobody acks but that is delivered locally waits
/// until the earlier ones have been (<see cref="WaitForEarlierAcksAsync"/>). When the connection ends,
/// the stored messages whose acks had not left are still delivered, in order, and its will waits for
/// that (<see cref="DeliveredAtEnd"/>).
/// </para>
/// <para>
/// Written by the receive loop and read by the send loop; the lock is never held across an await.
/// </para>
/// </remarks>
/// <param name="acksCarryReasonCodes">Whether an ack can say no (MQTT 5); if not, a refusal closes the connection.</param>
/// <param name="maxWaiting">How many acks may wait before the receive loop stops reading.</param>
/// <param name="deliver">Delivers a stored message locally; must not throw (local delivery is best effort).</param>
public sealed class AckSequencer<TMessage>(bool acksCarryReasonCodes, int maxWaiting, Func<TMessage, Task> deliver)
{
    private readonly Lock _gate = new();
    private readonly Queue<Entry> _waiting = new();
    private TaskCompletionSource? _roomWaiter;
    private int _roomWaiterLimit;
    private ushort _announced;
    private bool _hasAnnounced;
    private bool _watchingEnd;
    private bool _stopped;
    private Task _deliveredAtEnd = Task.CompletedTask;

    public bool AcksCarryReasonCodes { get; } = acksCarryReasonCodes;

    /// <summary>
    /// How many acks may wait at once: the receive loop reads no further publish until one is on its way out,
    /// so a client that sends without reading its acks holds at most this many messages.
    /// </summary>
    public int MaxWaiting { get; } = maxWaiting > 0 ? maxWaiting : throw new ArgumentOutOfRangeException(nameof(maxWaiting), maxWaiting, "at least one ack must be able to wait");

    /// <summary>
    /// Set when a publish is refused on arrival without a reason code: the connection closes at that
    /// publish's turn, and what is read meanwhile is neither stored nor acknowledged (QoS 1/2 comes
    /// again; QoS 0 is lost, as it would be to a close at once).
    /// </summary>
    public bool IsClosing { get; private set; }

    /// <summary>Whether any ack is still to leave.</summary>
    public bool HasWaiting
    {
        get
        {
            lock (_gate) return _waiting.Count > 0;
        }
    }

    /// <summary>
    /// The local delivery of the stored messages whose acks had not left when the connection ended;
    /// complete until it ends. A will waits for it, so it does not overtake them.
    /// </summary>
    public Task DeliveredAtEnd => Volatile.Read(ref _deliveredAtEnd);

    /// <summary>
    /// The receive loop read a publish and is about to hand it on: noted so the publish can be told
    /// apart from one the receive loop did not read (<see cref="TryTakeAnnounced"/>). The first one also
    /// watches <paramref name="connection"/>, which is cancelled when the receive loop ends.
    /// </summary>
    public void Announce(ushort packetId, CancellationToken connection)
    {
        lock (_gate)
        {
            _announced = packetId;
            _hasAnnounced = true;
        }
        if (_watchingEnd) return;
        _watchingEnd = true;
        connection.UnsafeRegister(static self => ((AckSequencer<TMessage>)self!).ConnectionEnded(), this);
    }

    /// <summary>
    /// The packet identifier of the publish the receive loop announced, once. False for a publish the
    /// receive loop did not read, such as the will published after it ended.
    /// </summary>
    public bool TryTakeAnnounced(out ushort packetId)
    {
        lock (_gate)
        {
            packetId = _announced;
            var had = _hasAnnounced;
            _hasAnnounced = false;
            return had;
        }
    }

    /// <summary>Completes once fewer than <see cref="MaxWaiting"/> acks wait: the receive loop reads on.</summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken) => WaitUntilFewerThanAsync(MaxWaiting, cancellationToken);

    /// <summary>Completes once every ack before now has left and its message has been delivered locally.</summary>
    public Task WaitForEarlierAcksAsync(CancellationToken cancellationToken) => WaitUntilFewerThanAsync(1, cancellationToken);

    /// <summary>The answer to this publish's ack was settled on arrival (a reason code set, or nothing to store): it leaves at its turn.</summary>
    public void Settle(ushort packetId) => Add(new Entry(packetId, EntryKind.Settled, null, default));

    /// <summary>This publish's ack waits for <paramref name="stored"/> (its commit on disk), then for the local delivery of <paramref name="message"/>.</summary>
    public void Hold(ushort packetId, Task stored, TMessage message) => Add(new Entry(packetId, EntryKind.Held, stored, message));

    /// <summary>A publish with an ack refused on arrival: its ack carries the reason code, or the connection closes at its turn.</summary>
    public ArrivalRefusal RefuseOnArrival(ushort packetId)
    {
        if (AcksCarryReasonCodes)
        {
            Settle(packetId);
            return ArrivalRefusal.ReasonCode;
        }
        IsClosing = true;
        Add(new Entry(packetId, EntryKind.CloseHere, null, default));
        return ArrivalRefusal.CloseAtItsTurn;
    }

    /// <summary>
    /// A publish without an ack (QoS 0) refused on arrival. Without reason codes the connection is
    /// closed, but not before the acks waiting have left: closing at once would lose them, and the
    /// client would send those stored messages again.
    /// </summary>
    public ArrivalRefusal RefuseUnacknowledgedOnArrival() =>
        AcksCarryReasonCodes ? ArrivalRefusal.ReasonCode
        : HasWaiting ? ArrivalRefusal.CloseAfterEarlierAcks
        : ArrivalRefusal.CloseNow;

    /// <summary>
    /// Called by the send loop as the ack of <paramref name="packetId"/> is about to leave: completes
    /// once its answer is known (for a held publish, after the commit and the local delivery).
    /// </summary>
    public Task<AckVerdict<TMessage>> AckLeavingAsync(ushort packetId)
    {
        Entry? entry;
        lock (_gate)
        {
            if (!_waiting.TryPeek(out entry) || entry.PacketId != packetId)
            {
                // Not seen arriving on this connection (one taken over meanwhile, say): an ack leaves only
                // when it is known to be true. Seen, but behind an earlier one: it would overtake it.
                if (!IsWaiting(packetId)) return Task.FromResult(new AckVerdict<TMessage>(AckAction.Withhold));
                _stopped = true;
                return Task.FromResult(new AckVerdict<TMessage>(AckAction.WithholdAndClose));
            }
        }
        return AnswerAsync(entry);
    }

    private bool IsWaiting(ushort packetId)
    {
        foreach (var entry in _waiting)
        {
            if (entry.PacketId == packetId) return true;
        }
        return false;
    }

    /// <summary>The answer for the ack at the head of the queue, whose entry then goes.</summary>
    private async Task<AckVerdict<TMessage>> AnswerAsync(Entry entry)
    {
        try
        {
            if (_stopped) return new(AckAction.Withhold); // acks go in order: none may follow a refusal that closes
            if (entry.Kind == EntryKind.CloseHere) return Stop(null);
            if (entry.Kind == EntryKind.Settled) return new(AckAction.Send);
            try
            {
                await entry.Stored!.ConfigureAwait(false);
            }
            catch (OutboxRejectedException ex)
            {
                return AcksCarryReasonCodes ? new(AckAction.SendRefusal, ex, entry.Message) : Stop(ex, entry.Message);
            }
            catch (Exception)
            {
                // The outbox is closing, or failed in a way it does not name: whether the message is stored
                // is unknown, so no ack, none after it, and the client sends again what is unacknowledged.
                return Stop(null);
            }
            var storeWait = Stopwatch.GetElapsedTime(entry.Arrived);
            await entry.DeliverOnce(deliver).ConfigureAwait(false);
            return new(AckAction.Send, StoreWait: storeWait);
        }
        finally
        {
            // Only now: a publish delivered by the adapter itself waits for this (WaitForEarlierAcksAsync).
            Leave(entry);
        }
    }

    private AckVerdict<TMessage> Stop(OutboxRejectedException? rejection, TMessage? message = default)
    {
        _stopped = true;
        return new(AckAction.WithholdAndClose, rejection, message);
    }

    private void Add(Entry entry)
    {
        lock (_gate) _waiting.Enqueue(entry);
    }

    /// <summary>The ack has left (or never will) and its message has been delivered: its entry goes, making room.</summary>
    private void Leave(Entry entry)
    {
        TaskCompletionSource? waiter = null;
        lock (_gate)
        {
            if (_waiting.TryPeek(out var head) && ReferenceEquals(head, entry)) _waiting.Dequeue();
            if (_roomWaiter is not null && _waiting.Count < _roomWaiterLimit)
            {
                waiter = _roomWaiter;
                _roomWaiter = null;
            }
        }
        waiter?.TrySetResult();
    }

    /// <summary>One waiter at a time: the connection's receive loop.</summary>
    private Task WaitUntilFewerThanAsync(int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_waiting.Count < limit) return Task.CompletedTask;
            _roomWaiterLimit = limit;
            // Its continuation is the receive loop's: not to be run on the send loop that frees the room.
            _roomWaiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _roomWaiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The receive loop ended: the send loop stops too, so the stored messages whose acks had not left
    /// would reach no local subscriber. They are delivered here, oldest first, each once its commit is on disk.
    /// </summary>
    private void ConnectionEnded()
    {
        List<Entry> remaining;
        lock (_gate)
        {
            _hasAnnounced = false; // announced but never handed on: whatever comes now was not read by the receive loop
            remaining = [.. _waiting.Where(e => e.Kind == EntryKind.Held)];
        }
        Volatile.Write(ref _deliveredAtEnd, DeliverRemainingAsync(remaining));
    }

    private async Task DeliverRemainingAsync(List<Entry> remaining)
    {
        foreach (var entry in remaining)
        {
            try
            {
                await entry.Stored!.ConfigureAwait(false);
            }
            catch (Exception)
            {
                continue; // not stored: nobody local sees it
            }
            // Started by the send loop, if that got to it first: then this waits for that delivery, so the
            // next message (and the will) does not overtake it.
            await entry.DeliverOnce(deliver).ConfigureAwait(false);
        }
    }

    private enum EntryKind
    {
        Held,
        Settled,
        CloseHere,
    }

    private sealed class Entry(ushort packetId, EntryKind kind, Task? stored, TMessage? message)
    {
        private Task? _delivery;
        private bool _delivering;

        public ushort PacketId { get; } = packetId;
        public EntryKind Kind { get; } = kind;
        public Task? Stored { get; } = stored;
        public TMessage? Message { get; } = message;

        /// <summary>When the publish was queued for the store: its ack's wait is measured from here.</summary>
        public long Arrived { get; } = Stopwatch.GetTimestamp();

        /// <summary>
        /// Delivers it locally once, whoever asks first (its ack's send loop, or the connection's end);
        /// a later caller gets the same delivery to wait for, so it cannot be overtaken.
        /// </summary>
        public Task DeliverOnce(Func<TMessage, Task> deliver)
        {
            if (Volatile.Read(ref _delivery) is { } started) return started;
            lock (this)
            {
                if (_delivery is { } begun) return begun;
                if (_delivering) return Task.CompletedTask; // asked again from inside its own delivery (the lock is re-entrant)
                _delivering = true;
                return _delivery = deliver(Message!);
            }
        }
    }
}
