using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Hardware;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>The gateway as the front panel reads it: links, backlog, store faults, failed logins.</summary>
internal sealed class ApplianceSource(GatewayOptions options, LiteDbOutbox store, ForwardingService forwarding, OldestWaiting oldest, GatewayMetrics metrics) : IAppliance
{
    /// <summary>The failed-login counter the users' authentication keeps.</summary>
    public const string AuthFailuresMetric = "auth_logins_failed_total";

    public ApplianceState Read()
    {
        var forwarders = forwarding.Forwarders;
        var quota = Math.Max((double)store.Count / options.Outbox.MaxMessages, (double)store.Bytes / options.Outbox.MaxBytes);
        return new ApplianceState(
            UpstreamsConfigured: forwarders.Count,
            UpstreamsConnected: forwarders.Count(f => f.IsConnected && f.BlockedBecause is null),
            BacklogMessages: store.Count,
            QuotaShare: quota,
            OldestWaiting: oldest.Age(),
            StoreRefusing: store.Faulted.IsCompleted,
            DiskGuardActive: store.DiskFull,
            StoreWriteFailures: metrics.Get("outbox_commit_failures_total"),
            CorruptMovedAside: metrics.Get("outbox_corrupt_stores_total") + metrics.Get("outbox_corrupt_chunks_total"),
            AuthFailures: metrics.Get(AuthFailuresMetric));
    }

    public void ReconnectNow()
    {
        foreach (var forwarder in forwarding.Forwarders) forwarder.ReconnectNow();
    }
}

/// <summary>
/// Runs the front panel (<c>Gateway:Hardware</c>) when pins are configured: ticks it every
/// <see cref="TickEvery"/>, fast enough for the 4 Hz blink and the button's 30 ms debounce. Without
/// GPIO it says so in one line and the gateway runs on.
/// </summary>
internal sealed partial class FrontPanelService(GatewayOptions options, IAppliance appliance, ILogger<FrontPanelService> logger) : BackgroundService
{
    private static readonly TimeSpan TickEvery = TimeSpan.FromMilliseconds(25);

    /// <summary>Makes the board's GPIO controller; tests swap it for one on a fake driver.</summary>
    public Func<HardwareOptions, System.Device.Gpio.GpioController> Controller { get; init; } = GpioPanelPins.BoardController;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var hardware = options.Hardware;
        if (!hardware.Enabled) return;
        using var pins = GpioPanelPins.TryOpen(hardware, () => Controller(hardware), logger);
        if (pins is null) return;
        var panel = new FrontPanel(hardware, appliance, pins, logger);
        LogStarted(hardware.LinkLedPin, hardware.BacklogLedPin, hardware.FaultLedPin, hardware.HeartbeatLedPin, hardware.ButtonPin);
        using var timer = new PeriodicTimer(TickEvery);
        try
        {
            do
            {
                panel.Tick(Environment.TickCount64);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping: the pins are darkened as they are disposed
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            LogFailed(ex.Message);
        }
    }

    [LoggerMessage(EventIds.FrontPanelStarted, LogLevel.Information, "Front panel on: LEDs link {Link}, backlog {Backlog}, fault {Fault}, heartbeat {Heartbeat}; button {Button} (GPIO lines, none = not fitted)")]
    private partial void LogStarted(int? link, int? backlog, int? fault, int? heartbeat, int? button);

    [LoggerMessage(EventIds.FrontPanelFailed, LogLevel.Error, "Front panel stopped: {Cause}; the gateway runs on without it")]
    private partial void LogFailed(string cause);
}
