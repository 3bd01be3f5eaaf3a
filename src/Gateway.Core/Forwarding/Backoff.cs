namespace Gateway.Core.Forwarding;

/// <summary>Exponential backoff with full jitter, so gateways that lost the same broker do not all return at once.</summary>
public sealed class Backoff(TimeSpan min, TimeSpan max, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;

    public int Failures { get; private set; }

    /// <summary>The delay before the next attempt; grows with each call until <see cref="Reset"/>.</summary>
    public TimeSpan Next()
    {
        var ceiling = min.TotalMilliseconds * Math.Pow(2, Math.Min(Failures, 30));
        ceiling = Math.Min(ceiling, max.TotalMilliseconds);
        Failures++;
        // Half fixed, half random: never zero (no hot loop), never above the ceiling.
        return TimeSpan.FromMilliseconds(ceiling / 2 + _random.NextDouble() * ceiling / 2);
    }

    public void Reset() => Failures = 0;
}
