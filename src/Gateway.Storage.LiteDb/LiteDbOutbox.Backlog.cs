using System.Threading.Channels;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

// The backlog as an operator sees it: the waiting messages read like a forwarder reads them, and a
// purge that the writer performs, so the store keeps its single writer.
public sealed partial class LiteDbOutbox
{
    /// <summary>Messages read per step while a purge looks for what it removes: bounded memory for any backlog.</summary>
    private const int PurgeReadBatch = 1000;

    /// <summary>Purges taken off the queue, run after the group they came with (writer thread only).</summary>
    private readonly List<PurgeOp> _purges = [];

    /// <summary>
    /// Removes every stored message <paramref name="doomed"/> selects, in one transaction of the
    /// writer, and returns how many went. A message a forwarder is sending at that moment may still
    /// reach its upstream (at least once); none is sent after the purge is committed.
    /// </summary>
    /// <exception cref="OutboxRejectedException">The store is closing or its writer has stopped.</exception>
    public async Task<int> PurgeAsync(Func<StoredMessage, bool> doomed, CancellationToken cancellationToken = default)
    {
        if (_readOnly) throw new InvalidOperationException("the store was opened to read only");
        var op = new PurgeOp(doomed);
        try
        {
            await _queue.Writer.WriteAsync(op, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new OutboxRejectedException(OutboxRejection.Unavailable, "the store is closing");
        }
        return await op.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the purges the last <see cref="FillGroup"/> took, after its group is committed.</summary>
    private void RunPurges()
    {
        if (_purges.Count == 0) return;
        foreach (var purge in _purges)
        {
            if (_reopenNeeded || _store is null)
            {
                purge.Completion.TrySetException(new OutboxRejectedException(OutboxRejection.Unavailable, "the store is not open (a write failed; it is being reopened)"));
                continue;
            }
            try
            {
                var removed = RemoveNow(SelectForPurge(purge.Doomed));
                _metrics.Increment("outbox_purged_total", "", removed);
                purge.Completion.TrySetResult(removed);
            }
            catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
            {
                WriteFailed("purging messages", ex, inTransaction: true);
                purge.Completion.TrySetException(new OutboxRejectedException(OutboxRejection.StoreFailed, $"the purge failed: {ex.Message}", ex));
            }
        }
        _purges.Clear();
    }

    /// <summary>Every stored sequence the predicate selects, oldest first, read in bounded steps.</summary>
    private List<long> SelectForPurge(Func<StoredMessage, bool> doomed)
    {
        var selected = new List<long>();
        var batch = new List<StoredMessage>(PurgeReadBatch);
        var after = 0L;
        while (true)
        {
            batch.Clear();
            _store!.Chunks.Read(after, LastCommittedSequence, PurgeReadBatch, int.MaxValue, batch, _revoked);
            if (batch.Count == 0) return selected;
            foreach (var message in batch)
            {
                if (doomed(message)) selected.Add(message.Sequence);
            }
            after = batch[^1].Sequence;
        }
    }

    /// <summary>Fails the purges a stopping writer will never run.</summary>
    private void FailPurges(IEnumerable<WriteOp> ops, Exception failure)
    {
        foreach (var purge in ops.OfType<PurgeOp>().Concat(_purges)) purge.Completion.TrySetException(failure);
        _purges.Clear();
    }
}

/// <summary>An operator's purge of stored messages, run by the writer between groups.</summary>
internal sealed class PurgeOp(Func<StoredMessage, bool> doomed) : WriteOp
{
    public Func<StoredMessage, bool> Doomed { get; } = doomed;

    /// <summary>How many messages went; completed on the writer thread, so continuations run elsewhere.</summary>
    public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override int Size => 0;
}
