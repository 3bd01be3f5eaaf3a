namespace Gateway.UnitTests.Forwarding;

/// <summary>Counts reads of the store on their way through.</summary>
internal sealed class CountingOutbox(Gateway.Core.Outbox.IOutbox inner) : Gateway.Core.Outbox.IOutbox
{
    private int _reads;
    private int _parkedWaits;
    public int Reads => Volatile.Read(ref _reads);
    /// <summary>Waits for new messages that did not end at once: the forwarder is parked, not polling.</summary>
    public int ParkedWaits => Volatile.Read(ref _parkedWaits);

    /// <summary>Reads fail as they do once the store's writer has died and disposed it.</summary>
    public bool FailReads { get; init; }
    public long LastCommittedSequence => inner.LastCommittedSequence;
    public long Count => inner.Count;
    public ValueTask<long> AppendAsync(Gateway.Core.Messages.IncomingMessage message, CancellationToken cancellationToken = default) => inner.AppendAsync(message, cancellationToken);
    public ValueTask<Task<long>> EnqueueAsync(Gateway.Core.Messages.IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default) => inner.EnqueueAsync(message, awaited, cancellationToken);
    public void CommitLingeringNow() => inner.CommitLingeringNow();
    public Task WaitForMessagesAfterAsync(long sequence, CancellationToken cancellationToken)
    {
        var waiting = inner.WaitForMessagesAfterAsync(sequence, cancellationToken);
        if (!waiting.IsCompleted) Interlocked.Increment(ref _parkedWaits);
        return waiting;
    }
    public long GetCursor(string upstream) => inner.GetCursor(upstream);
    public ValueTask AdvanceCursorAsync(string upstream, long throughSequence, IReadOnlyList<Gateway.Core.Messages.StoredMessage> passed, CancellationToken cancellationToken = default) =>
        inner.AdvanceCursorAsync(upstream, throughSequence, passed, cancellationToken);

    public IReadOnlyList<Gateway.Core.Messages.StoredMessage> ReadAfter(long afterSequence, int maxCount, int maxBytes)
    {
        Interlocked.Increment(ref _reads);
        if (FailReads) throw new ObjectDisposedException("ReaderWriterLockSlim");
        return inner.ReadAfter(afterSequence, maxCount, maxBytes);
    }
}
