using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Hosting;

/// <summary>A forwarder that dies must not leave a gateway that accepts but never forwards.</summary>
public sealed class ForwardingServiceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_forwarder_that_dies_is_logged_as_critical_marks_the_gateway_failed_and_stops_the_host()
    {
        var routes = new RouteTable([new Route("#", "up", new RouteTarget("amq.topic"))], ["up"]);
        var forwarder = new Forwarder(new NeverConnects(), new DeadOutbox(), routes, "gw", ForwarderOptions.Default, new GatewayMetrics(), NullLogger<Forwarder>.Instance);
        var lifetime = new RecordingLifetime();
        var log = new RecordingLogger();
        using var service = new ForwardingService([forwarder], new GatewayOptions { Id = "gw" }, lifetime, log);

        await service.StartAsync(CancellationToken.None);
        await lifetime.Stopped.Task.WaitAsync(Patience);

        Assert.Contains("the forwarder for upstream 'up' stopped", service.Fault);
        var critical = Assert.Single(log.Entries, e => e.Level == LogLevel.Critical);
        Assert.IsType<InvalidOperationException>(critical.Exception);
        Assert.Contains("stopped unexpectedly", critical.Message);
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_forwarder_stopped_at_shutdown_is_no_fault()
    {
        var routes = new RouteTable([new Route("#", "up", new RouteTarget("amq.topic"))], ["up"]);
        var forwarder = new Forwarder(new NeverConnects(), new DeadOutbox { Alive = true }, routes, "gw",
            ForwarderOptions.Default with { ReconnectMinDelay = TimeSpan.FromMilliseconds(1) }, new GatewayMetrics(), NullLogger<Forwarder>.Instance);
        var lifetime = new RecordingLifetime();
        var log = new RecordingLogger();
        using var service = new ForwardingService([forwarder], new GatewayOptions { Id = "gw" }, lifetime, log);

        await service.StartAsync(CancellationToken.None);
        await service.StopAsync(CancellationToken.None);

        Assert.Null(service.Fault);
        Assert.False(lifetime.Stopped.Task.IsCompleted);
        Assert.DoesNotContain(log.Entries, e => e.Level == LogLevel.Critical);
    }

    /// <summary>An outbox whose cursor cannot be read, as when the store failed under the forwarder.</summary>
    private sealed class DeadOutbox : IOutbox
    {
        public bool Alive { get; init; }
        public long LastCommittedSequence => 0;
        public long Count => 0;
        public long GetCursor(string upstream) => Alive ? 0 : throw new InvalidOperationException("the store is gone");
        public ValueTask<long> AppendAsync(IncomingMessage message, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask<Task<long>> EnqueueAsync(IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public void CommitLingeringNow() { }
        public Task WaitForMessagesAfterAsync(long sequence, CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);
        public IReadOnlyList<StoredMessage> ReadAfter(long afterSequence, int maxCount, int maxBytes) => [];
        public ValueTask AdvanceCursorAsync(string upstream, long throughSequence, IReadOnlyList<StoredMessage> passed, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }

    private sealed class NeverConnects : IUpstreamConnector
    {
        public string Name => "up";
        public IReadOnlyList<string> Endpoints { get; } = ["amqp://nowhere/"];
        public Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken) => throw new IOException("connection refused");
    }

    private sealed class RecordingLifetime : IHostApplicationLifetime
    {
        public TaskCompletionSource Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() => Stopped.TrySetResult();
    }

    private sealed class RecordingLogger : ILogger<ForwardingService>
    {
        private readonly List<(LogLevel Level, string Message, Exception? Exception)> _entries = [];

        public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Entries
        {
            get { lock (_entries) return [.. _entries]; }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries) _entries.Add((logLevel, formatter(state, exception), exception));
        }
    }
}
