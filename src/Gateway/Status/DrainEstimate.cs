namespace Gateway.Status;

/// <summary>
/// How long one upstream's backlog takes to drain at the pace it has shrunk over the last
/// <see cref="Window"/> readings: the backlog over the fall per second between the oldest and the
/// newest reading. Not known (null) while the backlog holds or grows: then it does not drain.
/// </summary>
/// <remarks>
/// The net fall, not the forward rate: messages keep arriving while the backlog drains, and an ETA
/// from the forward rate alone would promise too early an end.
/// </remarks>
public sealed class DrainEstimate
{
    /// <summary>Readings kept: at one a second, the last ten seconds, long enough to smooth a batch's steps.</summary>
    public const int Window = 10;

    private readonly (long AtMs, long Backlog)[] _readings = new (long, long)[Window];
    private int _next, _count;

    /// <summary>Adds a reading and returns the ETA in seconds: 0 for no backlog, null when it does not shrink.</summary>
    public double? Next(long backlog, long atMs)
    {
        _readings[_next] = (atMs, backlog);
        _next = (_next + 1) % Window;
        if (_count < Window) _count++;
        if (backlog == 0) return 0;
        if (_count < 2) return null;

        var oldest = _readings[(_next - _count + Window) % Window];
        var seconds = (atMs - oldest.AtMs) / 1000.0;
        var fallPerSecond = seconds > 0 ? (oldest.Backlog - backlog) / seconds : 0;
        return fallPerSecond > 0 ? Math.Round(backlog / fallPerSecond, 1) : null;
    }
}
