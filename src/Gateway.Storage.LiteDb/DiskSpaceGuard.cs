using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The low-disk watermark on the ingest path: new messages are refused while the data folder's file
/// system has less than <see cref="LiteDbOutboxOptions.MinFreeDiskBytes"/> free, so the disk never
/// fills (LiteDB, the journal and the OS all need room to work). Called from every publishing
/// connection at once; the writer tells it the log's size.
/// </summary>
internal sealed class DiskSpaceGuard
{
    private readonly long _minFree;
    private readonly Func<long> _freeSpace;
    private readonly GatewayMetrics _metrics;
    private readonly Func<long> _clock;

    /// <summary>The log's size as the writer last saw it (no fstat per append).</summary>
    private long _logBytes;

    /// <summary>Payload bytes taken in since the disk was last asked.</summary>
    private long _bytesSinceReading;

    /// <summary>The last reading, and when it was taken: far enough back that the first append asks the disk.</summary>
    private long _freeBytes = long.MaxValue, _readAt = -1_000_000;

    /// <summary>Refusing since free space went below the watermark; cleared only above it by <see cref="ResumeMargin"/>.</summary>
    private volatile bool _refusing;

    /// <param name="minFree">The watermark; 0 for none.</param>
    /// <param name="freeSpace">Asks the file system for its free bytes.</param>
    /// <param name="metrics">Counts refusals.</param>
    /// <param name="clock">Milliseconds on a monotonic clock; <see cref="Environment.TickCount64"/> unless a test says otherwise.</param>
    public DiskSpaceGuard(long minFree, Func<long> freeSpace, GatewayMetrics metrics, Func<long>? clock = null)
    {
        _minFree = minFree;
        _freeSpace = freeSpace;
        _metrics = metrics;
        _clock = clock ?? (() => Environment.TickCount64);
    }

    /// <summary>
    /// How far above the watermark free space must be before messages are taken again, once refused:
    /// a tenth of the watermark, and at least 4 MiB. Without it acceptance flapped just after a drain
    /// (the checkpoint frees the log's room, a few hundred messages take it back, refused, accepted
    /// again...). A tenth scales with the watermark an operator chose; 4 MiB is a second or two of a
    /// busy site (a few thousand 1 KB messages, counted twice: log and data file), so a small
    /// watermark still does not flap.
    /// </summary>
    public long ResumeMargin => Math.Max(_minFree / 10, 4L << 20);

    /// <summary>Whether messages are being refused for lack of free space.</summary>
    public bool Refusing => _refusing;

    /// <summary>Free bytes at the last reading; null before the first (the field's start value only makes the first append ask).</summary>
    public long? FreeBytes => Interlocked.Read(ref _freeBytes) is var free && free == long.MaxValue ? null : free;

    public void NoteLogSize(long bytes) => Interlocked.Exchange(ref _logBytes, bytes);

    /// <summary>Refuses a message of <paramref name="size"/> payload bytes below the watermark.</summary>
    /// <param name="size">The message's payload bytes.</param>
    /// <param name="route">The message's route, as counted in <c>messages_refused_disk_total</c>.</param>
    /// <exception cref="OutboxRejectedException">The disk is almost full.</exception>
    public void Check(int size, string route = MetricCatalog.NoRoute)
    {
        ReadWhenDue(size); // also with no watermark: the reading is a metric
        if (_minFree <= 0) return; // no watermark at all
        // A checkpoint copies the log into the data file and may need that much room at once (the
        // outbox checkpoints past 8 MiB of log): that room is spoken for, so it does not count as
        // free, or the checkpoint itself would hit ENOSPC just above the watermark.
        var free = Interlocked.Read(ref _freeBytes);
        var log = Interlocked.Read(ref _logBytes);
        var refusing = _refusing;
        if (free - log >= _minFree + (refusing ? ResumeMargin : 0))
        {
            if (refusing) _refusing = false;
            return;
        }
        _refusing = true;
        _metrics.Increment("messages_refused_disk_total", route);
        throw new OutboxRejectedException(OutboxRejection.QuotaExceeded,
            $"the disk is almost full ({free >> 20} MiB free, {log >> 20} MiB of it kept for the next checkpoint; the gateway keeps at least {_minFree >> 20} MiB, " +
            $"and takes messages again above {(_minFree + ResumeMargin) >> 20} MiB)");
    }

    private void ReadWhenDue(int size)
    {
        var now = _clock();
        // Once a second is plenty with room to spare; close to the watermark a burst can fill the
        // rest within that second, so then every append asks (a statfs: microseconds). "Close" counts
        // what the next checkpoint needs and what was taken in since the last reading (twice over: the
        // log and the data file both receive it).
        var sinceReading = Interlocked.Add(ref _bytesSinceReading, size);
        var estimate = Interlocked.Read(ref _freeBytes) - Interlocked.Read(ref _logBytes) - 2 * sinceReading;
        // While refusing, every check asks: taking messages again must not wait for the next second.
        if (now - Interlocked.Read(ref _readAt) < 1000 && estimate >= 2 * _minFree && !_refusing) return;
        Interlocked.Exchange(ref _readAt, now);
        Interlocked.Exchange(ref _bytesSinceReading, 0);
        try
        {
            Interlocked.Exchange(ref _freeBytes, _freeSpace());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Cannot tell: keep the last reading rather than refusing everything.
        }
    }
}
