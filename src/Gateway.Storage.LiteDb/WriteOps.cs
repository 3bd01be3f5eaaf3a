using Gateway.Core.Messages;
using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

/// <summary>What the outbox's writer is asked to do, queued in order.</summary>
internal abstract class WriteOp
{
    /// <summary>Bytes it adds to a group (what the group and chunk limits count).</summary>
    public abstract int Size { get; }
}

/// <summary>A new message to store.</summary>
internal sealed class AppendOp(IncomingMessage message, int route) : WriteOp
{
    public IncomingMessage Message { get; } = message;

    /// <summary>Index of the message's first route, -1 for none.</summary>
    public int Route { get; } = route;

    /// <summary>Refused inside the writer (the store was full and nothing of its route could make room).</summary>
    public bool Refused { get; set; }

    /// <summary>Somebody waits for the commit (an ack, a receipt): its group is committed without lingering.</summary>
    public bool Awaited { get; init; } = true;

    // Completed only by the writer's settling, on a pool thread: the waiting ack runs inline there, never on the writer.
    public TaskCompletionSource<long> Completion { get; } = new();

    public long Sequence { get; set; }

    /// <summary>Why the append was not stored; null once it is committed.</summary>
    public OutboxRejectedException? Failure { get; set; }

    /// <summary>Its encoded size in a chunk.</summary>
    public int RecordSize { get; } = ChunkCodec.RecordSize(message, route);

    public override int Size => ChunkCodec.Framed(RecordSize);

    public void Complete()
    {
        if (Failure is { } failure) Completion.TrySetException(failure);
        else Completion.TrySetResult(Sequence);
    }
}

/// <summary>Asks the writer to commit what it holds now (<see cref="LiteDbOutbox.CommitLingeringNow"/>); not itself stored.</summary>
internal sealed class HurryOp : WriteOp
{
    public static HurryOp Instance { get; } = new();

    public override int Size => 0;
}

/// <summary>A damaged chunk a reader met, for the writer to remove.</summary>
internal sealed class QuarantineOp(long first, long last) : WriteOp
{
    public long First { get; } = first;
    public long Last { get; } = last;
    public override int Size => 0;
}

/// <summary>An upstream confirmed everything through a sequence; the messages it passed may go.</summary>
internal sealed class AdvanceOp(string upstream, long through, (long Sequence, string Topic, int Size)[] passed) : WriteOp
{
    public string Upstream { get; } = upstream;
    public long Through { get; } = through;
    public (long Sequence, string Topic, int Size)[] Passed { get; } = passed;
    public override int Size => 16 * Passed.Length;
}
