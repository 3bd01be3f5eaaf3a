namespace Gateway.Storage.LiteDb;

/// <summary>The running state of one group commit: what it will publish once committed.</summary>
internal sealed class CommitTally
{
    /// <summary>The last sequence handed out, and the store's totals, as the commit leaves them.</summary>
    public long Sequence, Count, Bytes;

    public int Appended, Deleted, Quarantined;

    /// <summary>Record bytes of the new messages (what the chunk and the totals' schedule count).</summary>
    public int AppendedBytes;

    /// <summary>Each upstream's new cursor; null when the group moves none.</summary>
    public Dictionary<string, long>? MovedCursors;

    /// <summary>Messages dropped to make room, by route; null when none.</summary>
    public Dictionary<int, int>? Dropped;

    /// <summary>The chunk of new messages written, when none of them was dropped again (for compaction).</summary>
    public (long First, long Last, int Count, int Bytes)? NewChunk;

    /// <summary>Revoked messages this commit deleted; null when it deleted none.</summary>
    public IReadOnlySet<long>? Revoked;

    public CommitTally Start(long sequence, long count, long bytes)
    {
        (Sequence, Count, Bytes) = (sequence, count, bytes);
        Appended = Deleted = Quarantined = AppendedBytes = 0;
        MovedCursors = null;
        Dropped = null;
        NewChunk = null;
        Revoked = null;
        return this;
    }
}
