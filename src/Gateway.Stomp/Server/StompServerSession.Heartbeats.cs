namespace Gateway.Stomp.Server;

public sealed partial class StompServerSession
{
    /// <summary>
    /// STOMP 1.2, "Heart-beating": sends a heart-beat when the connection has been quiet, and ends the
    /// session when the client has been silent for longer than the negotiated interval allows.
    /// </summary>
    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        if (SendHeartbeat == TimeSpan.Zero && ReceiveHeartbeat == TimeSpan.Zero) return;
        var send = SendHeartbeat.TotalMilliseconds;
        var receive = ReceiveHeartbeat.TotalMilliseconds;
        var tick = Math.Max(10, Math.Min(send == 0 ? double.MaxValue : send / 2, receive == 0 ? double.MaxValue : receive / 2));
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(tick));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false) && !IsClosing)
            {
                var now = Environment.TickCount64;
                var silent = now - Volatile.Read(ref _lastReadTicks);
                if (receive > 0 && Volatile.Read(ref _busySinceTicks) == 0 && silent > _options.HeartbeatTolerance * receive)
                {
                    Close(StompCloseKind.Timeout, $"heart-beat timeout: nothing from the client for {silent} ms",
                        $"heart-beat timeout: nothing received for {silent} ms (the negotiated interval is {receive} ms)");
                    await _stopReading.CancelAsync().ConfigureAwait(false);
                    return;
                }
                // A heart-beat only when nothing is queued: a stalled client must not collect them.
                if (send > 0 && now - Volatile.Read(ref _lastWriteTicks) >= send / 2 && Volatile.Read(ref _queuedFrames) == 0)
                {
                    Interlocked.Increment(ref _queuedFrames);
                    _outbound.Writer.TryWrite(new Outbound(null));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the session is ending
        }
    }
}
