using System.Globalization;
using Gateway.Core.Diagnostics;
using Gateway.Mqtt;
using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Hosting.Systemd;

namespace Gateway.Hosting;

/// <summary>Where the watchdog pings go and how often systemd wants them; from systemd's environment unless a test says otherwise.</summary>
/// <param name="Interval">systemd's <c>WatchdogSec</c> (<c>WATCHDOG_USEC</c>); null: no watchdog.</param>
internal sealed record WatchdogSettings(ISystemdNotifier Notifier, TimeSpan? Interval)
{
    /// <summary>
    /// <c>WATCHDOG_USEC</c>, when systemd set it for this process (<c>WATCHDOG_PID</c> absent or ours)
    /// and there is a <c>NOTIFY_SOCKET</c> to ping.
    /// </summary>
    public static WatchdogSettings FromEnvironment()
    {
        var notifier = new SystemdNotifier();
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        var ours = pid is null || pid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var interval = notifier.IsEnabled && ours && long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var us) && us > 0
            ? TimeSpan.FromMicroseconds(us)
            : (TimeSpan?)null;
        return new WatchdogSettings(notifier, interval);
    }
}

/// <summary>
/// Pings systemd's watchdog (<c>WATCHDOG=1</c>, twice per <c>WatchdogSec</c>) only while the gateway
/// is alive: the outbox's writer running and not stuck in one piece of work for longer than the
/// watchdog's interval, every forwarder running, the MQTT listener started. Once a check fails the
/// pings stop and systemd restarts the process: a hung writer cannot keep acking nothing for hours.
/// </summary>
internal sealed partial class SystemdWatchdog(
    WatchdogSettings settings,
    LiteDbOutbox store,
    ForwardingService forwarding,
    MqttListenerService mqtt,
    ILogger<SystemdWatchdog> logger) : BackgroundService
{
    /// <summary>Why the gateway is not alive now, or null.</summary>
    public string? Fault(TimeSpan stuckAfter)
    {
        if (store.Faulted.IsCompleted) return $"the outbox's writer stopped: {store.Faulted.Result.Message}";
        if (store.WriterBusyFor is { } busy && busy > stuckAfter)
            return $"the outbox's writer has been at one piece of work for {busy.TotalSeconds:0.0} s (stuck in the disk or the store)";
        if (forwarding.Fault is { } forwarder) return forwarder;
        if (!mqtt.IsRunning) return "the MQTT listener is not running";
        return null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.Interval is not { } interval) return;
        LogOn(interval.TotalSeconds);
        using var timer = new PeriodicTimer(interval / 2);
        string? withheld = null;
        do
        {
            var fault = Fault(interval);
            if (fault is null)
            {
                if (withheld is not null) LogResumed();
                settings.Notifier.Notify(new ServiceState("WATCHDOG=1"));
            }
            else if (fault != withheld)
            {
                LogWithheld(fault);
            }
            withheld = fault;
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventIds.WatchdogOn, LogLevel.Information, "systemd watchdog on: a ping every {Seconds:0.#} s / 2 while the gateway is alive")]
    private partial void LogOn(double seconds);

    [LoggerMessage(EventIds.WatchdogWithheld, LogLevel.Critical, "No watchdog ping: {Fault}; systemd will restart the gateway unless it recovers")]
    private partial void LogWithheld(string fault);

    [LoggerMessage(EventIds.WatchdogResumed, LogLevel.Warning, "Watchdog pings resumed: the gateway is alive again")]
    private partial void LogResumed();
}
