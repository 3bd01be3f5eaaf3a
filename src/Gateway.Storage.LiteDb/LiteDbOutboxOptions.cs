using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

public sealed record LiteDbOutboxOptions
{
    /// <summary>The folder holding <c>outbox.db</c> and its log <c>outbox-wal.db</c>.</summary>
    public required string DataPath { get; init; }

    /// <summary>
    /// Most messages in one group commit. Measured with fsync after each commit: groups of 100 reach
    /// about 23,000 msgs/s, groups of 1,000 about 69,000/s. A group somebody waits for is only as large
    /// as the queue already is, so a lone message with an ack waiting is committed at once; one nobody
    /// waits for may linger (<see cref="UnacknowledgedLinger"/>).
    /// </summary>
    public int MaxGroupMessages { get; init; } = 1000;

    /// <summary>
    /// How long the writer may hold a group of messages nobody waits for (MQTT QoS 0, STOMP SEND
    /// without receipt) to take in more: they share a commit, with fewer fsyncs and fewer pages written
    /// per message. Anything somebody waits for, or <see cref="LiteDbOutbox.CommitLingeringNow"/>,
    /// ends the wait at once and goes in the same commit; upstreams' cursor moves join it.
    /// </summary>
    /// <remarks>
    /// At a trickle of many QoS 0 sensors this cuts the bytes written to the device per message
    /// several times over (bench/notes.md, round 7). What it costs: those messages are forwarded that
    /// much later, and a crash or power cut (never a clean stop) loses up to that much more of what
    /// was never acknowledged. Expiry sweeps and idle work wait for the group too. <see cref="TimeSpan.Zero"/>
    /// commits at once.
    /// </remarks>
    public TimeSpan UnacknowledgedLinger { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most payload bytes in one group commit, so a burst of large messages keeps commits short.</summary>
    public int MaxGroupBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Writes waiting for the writer. Bounded so a disk slower than ingest pushes back on clients
    /// (their acks wait) instead of filling memory.
    /// </summary>
    public int PendingCapacity { get; init; } = 20_000;

    /// <summary>Largest payload accepted; LiteDB's document limit is 16 MiB, and an appliance rarely wants more than this.</summary>
    public int MaxMessageBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Most messages stored. Measured with 128-byte payloads: about 190 bytes of file per message when
    /// they come in groups, and about 210 at a trickle (one commit each) once the small chunks of a
    /// backlog are joined (620 before that). Five million take about 1 GB: a day or more of a busy
    /// site's data, well inside a 16 GB SD card.
    /// </summary>
    public long MaxMessages { get; init; } = 5_000_000;

    /// <summary>Most payload bytes stored (the files take roughly twice that with small messages).</summary>
    public long MaxBytes { get; init; } = 4L << 30;

    public WhenFull WhenFull { get; init; } = WhenFull.RejectNew;

    /// <summary>
    /// Below this much free space on the data folder's file system new messages are refused whatever
    /// the policy, so the disk never fills: LiteDB, the journal and the OS all need room to work.
    /// </summary>
    public long MinFreeDiskBytes { get; init; } = 256L << 20;

    /// <summary>Free bytes on the file system holding a path; replaceable so tests can fake a full disk.</summary>
    public Func<string, long> FreeSpace { get; init; } = path => new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;

    /// <summary>
    /// Small chunks (a commit of a few messages, as at a trickle) this many sequences behind the newest
    /// are joined when the writer is idle. Joining rewrites them once, so only a real backlog is worth
    /// it; a burst the forwarder is about to remove is not.
    /// </summary>
    public int CompactBehind { get; init; } = 10_000;

    /// <summary>
    /// Bytes of log (LiteDB pages) the log file is laid out for once, then only overwritten, so a
    /// commit's fsync flushes its pages alone (<see cref="PreallocatedLogStream"/>; the file is half as
    /// large again, about 14 MiB for the default). The outbox checkpoints the log at about 8 MiB; a larger
    /// transaction (a 14 MiB chunk) grows the file past this, once.
    /// </summary>
    public long LogPreallocateBytes { get; init; } = 9L << 20;

    /// <summary>
    /// The first commit that only appends after this many such commits, this many bytes of records,
    /// or this long since the store's totals (count, payload bytes, sequence) were last written,
    /// writes them; opening adds up the chunks appended since. Internal: tests set them far off to
    /// see the adding up.
    /// </summary>
    internal int TotalsEveryCommits { get; init; } = 64;

    /// <inheritdoc cref="TotalsEveryCommits"/>
    internal long TotalsEveryBytes { get; init; } = 256 << 10;

    /// <inheritdoc cref="TotalsEveryCommits"/>
    internal TimeSpan TotalsEvery { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often expired messages are looked for and removed (also once at start).</summary>
    public TimeSpan ExpirySweepInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Every operator-settable value out of range, each a line naming its key as
    /// <paramref name="section"/><c>:Name</c>. <see cref="DataPath"/> is the host's to check.
    /// </summary>
    public IEnumerable<string> Validate(string section)
    {
        if (MaxGroupMessages is <= 0 or > 100_000) yield return $"{section}:MaxGroupMessages must be 1-100000 (was {MaxGroupMessages})";
        if (MaxGroupBytes <= 0) yield return $"{section}:MaxGroupBytes must be positive (was {MaxGroupBytes})";
        if (UnacknowledgedLinger < TimeSpan.Zero || UnacknowledgedLinger > TimeSpan.FromSeconds(10))
            yield return $"{section}:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was {UnacknowledgedLinger})";
        if (PendingCapacity <= 0) yield return $"{section}:PendingCapacity must be positive (was {PendingCapacity})";
        if (ExpirySweepInterval < TimeSpan.FromMilliseconds(100)) yield return $"{section}:ExpirySweepInterval must be at least 00:00:00.100 (was {ExpirySweepInterval})";
        if (MaxMessages <= 0) yield return $"{section}:MaxMessages must be positive (was {MaxMessages})";
        if (MaxBytes < MaxMessageBytes) yield return $"{section}:MaxBytes must be at least {section}:MaxMessageBytes (was {MaxBytes})";
        if (MinFreeDiskBytes < 0) yield return $"{section}:MinFreeDiskBytes must not be negative (was {MinFreeDiskBytes})";
        // LiteDB's document limit is 16 MiB; a chunk needs room for its record headers beside the payload.
        if (MaxMessageBytes is <= 0 or > 15 << 20)
            yield return $"{section}:MaxMessageBytes must be 1 to 15728640, LiteDB's document limit less room for headers (was {MaxMessageBytes})";
    }
}
