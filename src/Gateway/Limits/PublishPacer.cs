using Gateway.Configuration;

namespace Gateway.Limits;

/// <summary>
/// One connection's publish rate (Gateway:Limits:PublishRatePerClient): a token bucket whose debt is
/// waited out before the connection is read again. Slowed, not refused: the client keeps every
/// message, TCP's flow control holds it back, and MQTT 3.1.1 and QoS 0, which have no way to say
/// "too fast", are treated alike.
/// </summary>
internal sealed class PublishPacer
{
    private readonly TokenBucket _bucket;
    private readonly TimeProvider _time;
    private readonly Action _slowed;

    private PublishPacer(LimitsOptions options, TimeProvider time, Action slowed)
    {
        _time = time;
        _slowed = slowed;
        _bucket = new TokenBucket(options.PublishRatePerClient, options.PublishBurstPerClient, time);
    }

    /// <summary>A pacer for one connection, or null when publishes are not limited.</summary>
    /// <param name="slowed">Called each time the connection is made to wait (to count and log it).</param>
    public static PublishPacer? For(LimitsOptions options, TimeProvider time, Action slowed) =>
        options.PublishRatePerClient > 0 ? new PublishPacer(options, time, slowed) : null;

    /// <summary>Waits until <paramref name="messages"/> more are within the rate. Called by one reader at a time.</summary>
    public Task WaitTurnAsync(int messages, CancellationToken cancellationToken)
    {
        var wait = _bucket.Take(messages);
        if (wait <= TimeSpan.Zero) return Task.CompletedTask;
        _slowed();
        return Task.Delay(wait, _time, cancellationToken);
    }
}
