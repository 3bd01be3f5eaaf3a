using System.Diagnostics;

namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// Samples a gateway's forwarding from its /metrics (the upstream's cursor against the last committed
/// sequence) to measure how long forwarding paused: the longest time the cursor stood still while
/// messages were waiting behind it.
/// </summary>
internal sealed class ForwardingWatch : IAsyncDisposable
{
    /// <summary>Sampling resolution of the pause: fine beside a failover's seconds, light on two shared cores.</summary>
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(50);

    private readonly GatewayProcess _gateway;
    private readonly string _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _sampling;
    private long _cursor = -1;
    private TimeSpan _lastAdvance;
    private bool _waitingSinceAdvance;
    private TimeSpan _longestPause;

    public ForwardingWatch(GatewayProcess gateway, string upstream)
    {
        _gateway = gateway;
        _upstream = upstream;
        _sampling = SampleAsync();
    }

    /// <summary>The longest stretch with messages waiting and the cursor not moving, so far (including one still going on).</summary>
    public TimeSpan LongestPause
    {
        get
        {
            lock (_stop)
            {
                var current = _waitingSinceAdvance ? _clock.Elapsed - _lastAdvance : TimeSpan.Zero;
                return current > _longestPause ? current : _longestPause;
            }
        }
    }

    public async Task<long> CursorAsync() => (long)await _gateway.MetricAsync("upstream_cursor", _upstream);

    public async Task<long> LastSequenceAsync() => (long)await _gateway.MetricAsync("outbox_last_sequence");

    /// <summary>Waits until the upstream confirmed everything committed so far; returns how long that took.</summary>
    public async Task<TimeSpan> DrainAsync()
    {
        var draining = Stopwatch.StartNew();
        var last = await LastSequenceAsync();
        await Poll.UntilAsync(async () => await CursorAsync() >= last, Patience.Delivery, $"gateway {_gateway.Id} to forward through sequence {last}");
        return draining.Elapsed;
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(SampleEvery);
        do
        {
            try
            {
                var cursor = await CursorAsync();
                var waiting = await LastSequenceAsync() > cursor;
                Record(cursor, waiting);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // a scrape that failed on a busy machine: the next sample counts
            }
        } while (await NextAsync(timer));
    }

    private void Record(long cursor, bool waiting)
    {
        lock (_stop)
        {
            var now = _clock.Elapsed;
            if (cursor != _cursor)
            {
                if (_waitingSinceAdvance && _cursor >= 0 && now - _lastAdvance > _longestPause) _longestPause = now - _lastAdvance;
                _cursor = cursor;
                _lastAdvance = now;
                _waitingSinceAdvance = waiting;
            }
            else if (waiting && !_waitingSinceAdvance)
            {
                // Idle until now: the pause starts when something is waiting, not at the last advance.
                _waitingSinceAdvance = true;
                _lastAdvance = now;
            }
        }
    }

    private async Task<bool> NextAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        _stop.Dispose();
    }
}
