using System.Collections.Concurrent;
using Gateway.Hosting;
using Gateway.IntegrationTests.GatewayUnderTest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Gateway.IntegrationTests.Appliance;

/// <summary>systemd's watchdog (WatchdogSec in the unit) is pinged only while the outbox's writer is alive.</summary>
public sealed class WatchdogTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(400);

    /// <summary>Pings and the watchdog's log lines, in the order they happened.</summary>
    private readonly ConcurrentQueue<string> _events = new();

    [Fact]
    public async Task Pings_stop_while_the_writer_is_stuck_in_an_fsync_and_resume_once_it_is_free()
    {
        await using var gateway = await InProcessGateway.StartAsync(services => services
            .AddSingleton(new WatchdogSettings(new RecordingNotifier(_events), Interval))
            .AddSingleton<ILoggerProvider>(new WatchdogLog(_events)));
        gateway.ExpectErrors("No watchdog ping: the outbox's writer has been at one piece of work");
        await Poll.UntilAsync(() => _events.Count(e => e == "ping") >= 3);

        // The disk stops answering mid-commit: the publish is not acked, and the watchdog goes quiet.
        gateway.Sync.Close();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "sensor-1");
        var publish = device.PublishAsync("sensors/a", "1");
        await Poll.UntilAsync(() => _events.Any(e => e.StartsWith("withheld:", StringComparison.Ordinal)));
        Assert.False(publish.IsCompleted);
        Assert.Contains("stuck in the disk", _events.First(e => e.StartsWith("withheld:", StringComparison.Ordinal)));

        gateway.Sync.Open();
        await publish.WaitAsync(Patience.Reaction);
        await Poll.UntilAsync(() => _events.SkipWhile(e => e != "resumed").Contains("ping"));

        var sequence = _events.ToList();
        var withheld = sequence.FindIndex(e => e.StartsWith("withheld:", StringComparison.Ordinal));
        var resumed = sequence.IndexOf("resumed");
        Assert.True(withheld < resumed);
        Assert.True(!sequence[withheld..resumed].Contains("ping"), string.Join(" | ", sequence));
    }

    private sealed class RecordingNotifier(ConcurrentQueue<string> events) : ISystemdNotifier
    {
        public bool IsEnabled => true;

        public void Notify(ServiceState state)
        {
            if (state.ToString() == "WATCHDOG=1") events.Enqueue("ping");
        }
    }

    /// <summary>The watchdog's own lines: "withheld: why" and "resumed".</summary>
    private sealed class WatchdogLog(ConcurrentQueue<string> events) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => categoryName == typeof(SystemdWatchdog).FullName ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == Core.Diagnostics.EventIds.WatchdogWithheld) events.Enqueue("withheld: " + formatter(state, exception));
            if (eventId.Id == Core.Diagnostics.EventIds.WatchdogResumed) events.Enqueue("resumed");
        }
    }
}
