namespace Gateway.Hardware;

/// <summary>
/// The LED state machine: from the gateway's state to each LED's mode. Events that are over in an
/// instant (a failed write, a store part moved aside, a burst of failed logins) are seen as counters
/// that grew, and keep the fault LED on for <see cref="HardwareOptions.FaultHold"/> after the last one.
/// </summary>
public sealed class StatusLights
{
    private readonly HardwareOptions _options;
    private readonly Queue<(long AtMs, long Failures)> _authWindow = new();
    private ApplianceState? _last;
    private long _faultUntilMs = long.MinValue;
    private string? _heldCause;

    public StatusLights(HardwareOptions options) => _options = options;

    /// <summary>Why the fault LED is on, for the log; null when it is off.</summary>
    public string? FaultCause { get; private set; }

    /// <param name="state">The gateway now.</param>
    /// <param name="nowMs">A monotonic clock in milliseconds.</param>
    public PanelLights Evaluate(ApplianceState state, long nowMs)
    {
        NoteEvents(state, nowMs);
        _last = state;
        return new PanelLights(LinkMode(state), BacklogMode(state), FaultMode(state, nowMs), LedMode.Heartbeat);
    }

    private static LedMode LinkMode(ApplianceState s) =>
        s.UpstreamsConfigured == 0 ? LedMode.Off
        : s.UpstreamsConnected >= s.UpstreamsConfigured ? LedMode.On
        : LedMode.SlowBlink;

    private LedMode BacklogMode(ApplianceState s)
    {
        if (s.BacklogMessages <= 0) return LedMode.Off;
        var filling = s.QuotaShare >= _options.BacklogWarnShare || s.OldestWaiting >= _options.BacklogWarnAge;
        return filling ? LedMode.FastBlink : LedMode.On;
    }

    private LedMode FaultMode(ApplianceState s, long nowMs)
    {
        FaultCause = s.StoreRefusing ? "the store refuses new messages"
            : s.DiskGuardActive ? "free disk space is under the watermark"
            : nowMs < _faultUntilMs ? _heldCause
            : null;
        return FaultCause is null ? LedMode.Off : LedMode.On;
    }

    private void NoteEvents(ApplianceState s, long nowMs)
    {
        if (_last is null)
        {
            _authWindow.Enqueue((nowMs, s.AuthFailures));
            return;
        }
        if (s.StoreWriteFailures > _last.StoreWriteFailures) Hold(nowMs, "a write to the store failed");
        if (s.CorruptMovedAside > _last.CorruptMovedAside) Hold(nowMs, "a damaged part of the store was moved aside");

        _authWindow.Enqueue((nowMs, s.AuthFailures));
        while (_authWindow.Count > 1 && nowMs - _authWindow.Peek().AtMs > 60_000) _authWindow.Dequeue();
        if (s.AuthFailures - _authWindow.Peek().Failures >= _options.AuthFailuresPerMinute)
            Hold(nowMs, $"{_options.AuthFailuresPerMinute} or more failed logins within a minute");
    }

    private void Hold(long nowMs, string cause)
    {
        _faultUntilMs = nowMs + (long)_options.FaultHold.TotalMilliseconds;
        _heldCause = cause;
    }
}
