namespace Gateway.Core.Forwarding;

/// <summary>
/// A token that cancels once nothing has progressed for the timeout, or when a linked token cancels.
/// Each sign of progress pushes the deadline back, so it measures quiet time, not the batch's age:
/// a broker that confirms slowly but steadily is not a stall, a frozen one is seen one timeout in.
/// While held (the broker said it blocks publishing) the clock does not run at all.
/// </summary>
internal sealed class StallTimer : IDisposable
{
    /// <summary>
    /// Re-arming the timer on every confirm would cost a timer change per message; re-arming at most
    /// every 1/16 of the timeout declares a stall between 1 and 1.07 timeouts after the last progress.
    /// </summary>
    private const int RearmFraction = 16;

    private readonly CancellationTokenSource _source;
    private readonly TimeSpan _timeout;
    private readonly long _rearmEveryMs;
    private readonly Lock _arming = new();
    private long _armedAtMs;
    private bool _held;

    public StallTimer(TimeSpan timeout, CancellationToken first, CancellationToken second)
    {
        _timeout = timeout;
        _rearmEveryMs = Math.Max(1, (long)timeout.TotalMilliseconds / RearmFraction);
        _source = CancellationTokenSource.CreateLinkedTokenSource(first, second);
        _armedAtMs = Environment.TickCount64;
        _source.CancelAfter(timeout);
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Something was confirmed: the stall clock starts again. Safe from any thread, also after disposal.</summary>
    public void Progressed()
    {
        var now = Environment.TickCount64;
        var armed = Volatile.Read(ref _armedAtMs);
        if (now - armed < _rearmEveryMs || Interlocked.CompareExchange(ref _armedAtMs, now, armed) != armed) return;
        // Locked so that a confirm racing a hold cannot start the clock again after the hold stopped it.
        lock (_arming)
        {
            if (!_held) Arm(_timeout);
        }
    }

    /// <summary>The broker blocks publishing: no stall is counted until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_arming)
        {
            _held = true;
            Arm(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The broker takes publishes again: the stall clock starts from now.</summary>
    public void Release()
    {
        lock (_arming)
        {
            if (!_held) return;
            _held = false;
            Volatile.Write(ref _armedAtMs, Environment.TickCount64);
            Arm(_timeout);
        }
    }

    private void Arm(TimeSpan timeout)
    {
        try
        {
            _source.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
            // a late confirm or flow change after the batch was given up: nothing to push back
        }
    }

    public void Dispose() => _source.Dispose();
}
