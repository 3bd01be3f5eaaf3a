namespace Gateway.Status;

/// <summary>
/// A per-second rate from a monotonic counter read now and then: the increase since the last reading
/// over the time between them. The first reading has nothing to compare with and gives 0; a counter
/// that went down (a restart of its source) gives 0 rather than a negative rate.
/// </summary>
public sealed class CounterRate
{
    private long _lastValue;
    private long _lastAtMs = -1;

    public double Next(long value, long atMs)
    {
        var rate = 0.0;
        if (_lastAtMs >= 0 && atMs > _lastAtMs && value >= _lastValue)
            rate = (value - _lastValue) * 1000.0 / (atMs - _lastAtMs);
        _lastValue = value;
        _lastAtMs = atMs;
        return rate;
    }
}
