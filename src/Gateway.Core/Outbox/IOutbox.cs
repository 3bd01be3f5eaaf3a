using Gateway.Core.Messages;

namespace Gateway.Core.Outbox;

/// <summary>The durable store every message passes through: ingest → commit → forward → confirm → delete.</summary>
/// <remarks>
/// Each upstream drains the outbox on its own cursor (the highest sequence it has confirmed or passed
/// over), so one upstream that is down never holds up another. A message leaves the store once every
/// upstream its topic routes to has moved its cursor past it.
/// </remarks>
public interface IOutbox
{
    /// <summary>
    /// Stores a message. The task completes, with the message's sequence, only once the commit holding
    /// it is on disk (flushed and fsynced): an ack may be sent then and not before.
    /// </summary>
    /// <exception cref="OutboxRejectedException">The store refused or failed to commit the message.</exception>
    ValueTask<long> AppendAsync(IncomingMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues a message for the writer and completes once it is queued (waiting while the queue is
    /// full, so a fast publisher is slowed rather than buffered without bound). The returned task
    /// completes like <see cref="AppendAsync"/>.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="awaited">
    /// Whether anybody waits for the commit (an MQTT PUBACK, a STOMP RECEIPT). False for publishes
    /// nobody acknowledges (MQTT QoS 0, STOMP SEND without receipt): same path to disk, but the
    /// writer may hold them up to its linger (<c>Gateway:Outbox:UnacknowledgedLinger</c>) to commit
    /// more at once, so the returned task may take that long.
    /// </param>
    /// <param name="cancellationToken">Stops the wait for room in the queue.</param>
    /// <exception cref="OutboxRejectedException">The store refused the message before queueing it.</exception>
    ValueTask<Task<long>> EnqueueAsync(IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks the writer to commit what it holds back to share a commit (messages enqueued with
    /// <c>awaited: false</c>) without waiting out the linger, for a caller about to wait for one of
    /// them after all. Returns at once; the messages' own tasks say when they are on disk.
    /// </summary>
    void CommitLingeringNow();

    /// <summary>The highest sequence whose commit is on disk.</summary>
    long LastCommittedSequence { get; }

    /// <summary>Completes once a message with a sequence above <paramref name="sequence"/> is committed.</summary>
    Task WaitForMessagesAfterAsync(long sequence, CancellationToken cancellationToken);

    /// <summary>The upstream's persisted cursor: everything at or below it was confirmed (or was not its to send).</summary>
    long GetCursor(string upstream);

    /// <summary>
    /// Committed messages with a sequence above <paramref name="afterSequence"/>, oldest first, at most
    /// <paramref name="maxCount"/> of them and about <paramref name="maxBytes"/> (at least one).
    /// </summary>
    IReadOnlyList<StoredMessage> ReadAfter(long afterSequence, int maxCount, int maxBytes);

    /// <summary>
    /// Records that <paramref name="upstream"/> has confirmed (or passed over) every message up to and
    /// including <paramref name="throughSequence"/>; <paramref name="passed"/> are the messages it read
    /// on the way, so those that no other upstream still waits for can be deleted in the same commit.
    /// Completes when the change is queued for the writer; it is committed with the next group.
    /// </summary>
    ValueTask AdvanceCursorAsync(string upstream, long throughSequence, IReadOnlyList<StoredMessage> passed, CancellationToken cancellationToken = default);

    /// <summary>How many messages are in the store, for health and metrics.</summary>
    long Count { get; }
}

/// <summary>The outbox did not store a message; the client must not get an ack for it.</summary>
public sealed class OutboxRejectedException(OutboxRejection reason, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public OutboxRejection Reason { get; } = reason;
}

public enum OutboxRejection
{
    /// <summary>The commit failed (disk full, I/O error): a temporary condition, the client may retry.</summary>
    StoreFailed,

    /// <summary>The store is shutting down or not open.</summary>
    Unavailable,

    /// <summary>The message is larger than the store accepts.</summary>
    TooLarge,

    /// <summary>The store is full (its message or byte quota, or the disk's free-space watermark) and the policy is to refuse.</summary>
    QuotaExceeded,
}

/// <summary>What happens to a new message when the store is full.</summary>
public enum WhenFull
{
    /// <summary>Refuse it: the client keeps it and sends it again later. Nothing acknowledged is ever dropped.</summary>
    RejectNew,

    /// <summary>Make room by removing the oldest stored message of the same route (counted per route).</summary>
    DropOldest,
}
