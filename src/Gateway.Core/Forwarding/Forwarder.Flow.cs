using Gateway.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Core.Forwarding;

/// <summary>
/// The broker's flow control: while the link is blocked (a RabbitMQ memory or disk alarm) the batch in
/// flight waits without a stall clock, the gateway keeps storing, and health and metrics say why
/// nothing moves. Tearing the link down would not help: every new connection is blocked the same way,
/// and each torn-down one leaves its unconfirmed batch to be sent twice.
/// </summary>
public sealed partial class Forwarder
{
    private readonly Lock _flowGate = new();
    private StallTimer? _inFlight;
    private string? _blockedBecause;
    private long _blockedSinceMs;
    private long _blockedMsBefore;

    /// <summary>The broker's reason while it blocks this link's publishes; null while they flow.</summary>
    public string? BlockedBecause => Volatile.Read(ref _blockedBecause);

    /// <summary>Every second any link of this upstream has been blocked, the current block included.</summary>
    public double BlockedSeconds
    {
        get
        {
            lock (_flowGate)
                return (_blockedMsBefore + (_blockedBecause is null ? 0 : Environment.TickCount64 - _blockedSinceMs)) / 1000.0;
        }
    }

    private void RegisterFlowMetrics()
    {
        metrics.Gauge("upstream_blocked", Upstream, () => BlockedBecause is null ? 0 : 1);
        metrics.Gauge("upstream_blocked_seconds_total", Upstream, () => BlockedSeconds);
    }

    /// <summary>Follows the link's flow control, if its broker has one, until disposed.</summary>
    private IDisposable? WatchFlow(IUpstreamLink link) => link.Flow?.Watch(OnFlowChanged);

    private void OnFlowChanged(string? blockedBecause)
    {
        lock (_flowGate)
        {
            if (blockedBecause is not null && _blockedBecause is null)
            {
                _blockedSinceMs = Environment.TickCount64;
                Volatile.Write(ref _blockedBecause, blockedBecause);
                _inFlight?.Hold();
                metrics.Increment("upstream_blocks_total", Upstream);
                LogBlocked(Upstream, CurrentEndpoint, blockedBecause);
            }
            else if (blockedBecause is null && _blockedBecause is not null)
            {
                var seconds = EndBlock();
                _inFlight?.Release();
                LogUnblocked(Upstream, CurrentEndpoint, seconds);
            }
        }
    }

    /// <summary>The link is gone: a block it was under ends with it (the failure is logged on its own).</summary>
    private void ForgetBlock()
    {
        lock (_flowGate)
        {
            if (_blockedBecause is not null) EndBlock();
        }
    }

    private double EndBlock()
    {
        var blockedMs = Environment.TickCount64 - _blockedSinceMs;
        _blockedMsBefore += blockedMs;
        Volatile.Write(ref _blockedBecause, null);
        return blockedMs / 1000.0;
    }

    /// <summary>A stall clock for the batch about to be sent, held at once if the link is already blocked.</summary>
    private StallTimer StartStallClock(IUpstreamLink link, CancellationToken abort)
    {
        var stall = new StallTimer(options.ConfirmTimeout, abort, link.Lost);
        lock (_flowGate)
        {
            _inFlight = stall;
            if (_blockedBecause is not null) stall.Hold();
        }
        return stall;
    }

    private void StopStallClock(StallTimer stall)
    {
        lock (_flowGate)
        {
            if (_inFlight == stall) _inFlight = null;
        }
        stall.Dispose();
    }

    [LoggerMessage(EventIds.UpstreamBlocked, LogLevel.Warning,
        "Upstream {Upstream}: the broker blocked publishing on {Endpoint} ({Reason}); messages are stored and wait, the link is kept")]
    private partial void LogBlocked(string upstream, string endpoint, string reason);

    [LoggerMessage(EventIds.UpstreamUnblocked, LogLevel.Information,
        "Upstream {Upstream}: the broker takes publishes again on {Endpoint} after {Seconds:0.0} s blocked")]
    private partial void LogUnblocked(string upstream, string endpoint, double seconds);
}
