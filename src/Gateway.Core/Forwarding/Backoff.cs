namespace Gateway.Core.Forwarding;

/// <summary>Exponential backoff with full jitter, so gateways that lost the same broker do not all return at once.</summary>
/// <remarks>
/// <paramref name="attemptsPerStep"/> attempts share each step of the growth: with N endpoints, one walk of
/// them all. A pair's standby then gets tried at the same short pause as the active that just died,
/// as ActiveMQ's failover transport grows its delay per walk of its URI list, not per URI.
/// </remarks>
public sealed class Backoff(TimeSpan min, TimeSpan max, Random? random = null, int attemptsPerStep = 1)
{
    private readonly Random _random = random ?? Random.Shared;
    private readonly int _attemptsPerStep = Math.Max(1, attemptsPerStep);

    public int Failures { get; private set; }

    /// <summary>The delay before the next attempt; grows every <c>attemptsPerStep</c> calls until <see cref="Reset"/>.</summary>
    public TimeSpan Next()
    {
        var step = Failures / _attemptsPerStep;
        var ceiling = min.TotalMilliseconds * Math.Pow(2, Math.Min(step, 30));
        ceiling = Math.Min(ceiling, max.TotalMilliseconds);
        Failures++;
        // Half fixed, half random: never zero (no hot loop), never above the ceiling.
        return TimeSpan.FromMilliseconds(ceiling / 2 + _random.NextDouble() * ceiling / 2);
    }

    public void Reset() => Failures = 0;
}
