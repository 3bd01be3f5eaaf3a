using Gateway.Core.Diagnostics;
using System.Threading.Channels;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;

namespace Gateway.Storage.LiteDb;

// New messages: what is refused before it is queued (too large, the disk almost full, over the
// quota under RejectNew), and the queue's bookkeeping of what is pending.
public sealed partial class LiteDbOutbox
{
    public async ValueTask<long> AppendAsync(IncomingMessage message, CancellationToken cancellationToken = default) =>
        await (await EnqueueAsync(message, awaited: true, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);

    public async ValueTask<Task<long>> EnqueueAsync(IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default)
    {
        if (message.Payload.Length > _options.MaxMessageBytes)
        {
            throw new OutboxRejectedException(OutboxRejection.TooLarge,
                $"payload of {message.Payload.Length} bytes is over the limit of {_options.MaxMessageBytes}");
        }

        var route = _routes.FirstRouteIndex(message.Topic);
        var op = new AppendOp(message, route) { Awaited = awaited };
        if (op.Size > MaxChunkBytes)
        {
            throw new OutboxRejectedException(OutboxRejection.TooLarge,
                $"the message with its topic and properties takes {op.Size} bytes, over the store's limit of {MaxChunkBytes}");
        }
        _disk.Check(message.Payload.Length, RouteName(route));
        RefuseWhileUnwritable(route);
        if (PolicyFor(route) == WhenFull.RejectNew && WouldOverflow(message.Payload.Length))
        {
            _metrics.Increment("messages_refused_full_total", RouteName(route));
            throw new OutboxRejectedException(OutboxRejection.QuotaExceeded,
                $"the store is full ({Count} messages, {Bytes} payload bytes; limits {_options.MaxMessages} and {_options.MaxBytes})");
        }

        Interlocked.Increment(ref _pendingCount);
        Interlocked.Add(ref _pendingBytes, message.Payload.Length);
        try
        {
            await _queue.Writer.WriteAsync(op, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Add(ref _pendingBytes, -message.Payload.Length);
            if (ex is OperationCanceledException) throw;
            RefuseWhileUnwritable(route);
            throw new OutboxRejectedException(OutboxRejection.Unavailable, "the store is closing");
        }
        return op.Completion.Task;
    }

    /// <summary>Refuses, before anything is queued, while the writer has stopped or the disk has no room for the store's next write.</summary>
    private void RefuseWhileUnwritable(int route)
    {
        if (_faulted.Task.IsCompleted)
            throw new OutboxRejectedException(OutboxRejection.Unavailable, $"the store's writer stopped: {_faulted.Task.Result.Message}");
        if (!_diskFull) return;
        _metrics.Increment("messages_refused_disk_total", RouteName(route));
        // "could not commit" as for a commit that failed for the same reason (MQTT 0x80, not a quota).
        throw new OutboxRejectedException(OutboxRejection.StoreFailed, $"the store could not commit: {_diskFullCause}; new messages are refused until there is room");
    }

    public void CommitLingeringNow() => _queue.Writer.TryWrite(HurryOp.Instance); // a full queue makes a full group: no linger then

    private WhenFull PolicyFor(int route) => route >= 0 && _routes.Routes[route].WhenFull is { } own ? own : _options.WhenFull;

    private string RouteName(int route) => route >= 0 ? _routes.Routes[route].Filter : MetricCatalog.NoRoute;

    private bool WouldOverflow(long size) =>
        Count + Interlocked.Read(ref _pendingCount) + 1 > _options.MaxMessages
        || Bytes + Interlocked.Read(ref _pendingBytes) + size > _options.MaxBytes;

    /// <summary>The group's appends are no longer pending: committed, refused or failed.</summary>
    private void ReleasePending(List<WriteOp> group)
    {
        foreach (var op in group)
        {
            if (op is not AppendOp append) continue;
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Add(ref _pendingBytes, -append.Message.Payload.Length);
        }
    }
}
