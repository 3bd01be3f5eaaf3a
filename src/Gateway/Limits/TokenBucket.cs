namespace Gateway.Limits;

/// <summary>
/// A token bucket: <paramref name="capacity"/> tokens at most, refilled at <paramref name="rate"/> per second.
/// Not thread-safe: its owner serialises the calls (a lock, or one connection's read loop).
/// </summary>
internal sealed class TokenBucket(double rate, double capacity, TimeProvider time)
{
    private readonly double _capacity = capacity;
    private double _tokens = capacity;
    private long _last = time.GetTimestamp();

    /// <summary>Whether the bucket is full: it remembers nothing a new one would not.</summary>
    public bool IsFull()
    {
        Refill();
        return _tokens >= _capacity;
    }

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake()
    {
        Refill();
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }

    /// <summary>
    /// Takes <paramref name="count"/> tokens, going into debt when there are too few; returns how long
    /// the taker must wait for the debt to be repaid (zero when there was no debt).
    /// </summary>
    public TimeSpan Take(int count)
    {
        Refill();
        _tokens -= count;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / rate);
    }

    private void Refill()
    {
        var now = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        if (elapsed > 0) _tokens = Math.Min(_capacity, _tokens + elapsed * rate);
    }
}
