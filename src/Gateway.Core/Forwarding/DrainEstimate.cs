namespace Gateway.Core.Forwarding;

/// <summary>
/// How long an upstream's backlog takes to drain at the pace its cursor moved over the last
/// <see cref="Window"/>: sampled at most once a second (on each confirmed batch and each reading), so
/// it keeps a minute's worth of samples at most, whatever the batch rate.
/// </summary>
internal sealed class DrainEstimate
{
    /// <summary>A minute: long enough to smooth batches and reconnects, short enough to follow a change of pace.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Queue<(long AtMs, long Position)> _samples = new();

    public void Sample(long nowMs, long position)
    {
        lock (_samples)
        {
            if (_samples.Count > 0 && nowMs - _samples.Last().AtMs < 1000) return;
            _samples.Enqueue((nowMs, position));
            // Keep one sample at or just past the window's start, so the pace covers the whole window.
            while (_samples.Count > 2 && nowMs - _samples.ElementAt(1).AtMs >= Window.TotalMilliseconds) _samples.Dequeue();
        }
    }

    /// <summary>Seconds until <paramref name="backlog"/> is drained: 0 with none, NaN while the cursor has not moved within the window.</summary>
    public double SecondsToDrain(long nowMs, long position, long backlog)
    {
        Sample(nowMs, position);
        if (backlog <= 0) return 0;
        lock (_samples)
        {
            var (firstAt, firstPosition) = _samples.Peek();
            var elapsed = (nowMs - firstAt) / 1000.0;
            if (nowMs - firstAt > 2 * Window.TotalMilliseconds) return double.NaN; // only an old sample: nothing moved lately
            var perSecond = elapsed > 0 ? (position - firstPosition) / elapsed : 0;
            return perSecond > 0 ? backlog / perSecond : double.NaN;
        }
    }
}
