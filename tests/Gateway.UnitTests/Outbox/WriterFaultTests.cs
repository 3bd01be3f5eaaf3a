using Gateway.Core.Outbox;
using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Logging;

namespace Gateway.UnitTests.Outbox;

public sealed class WriterFaultTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();
    private readonly ListLogger _log = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    [Fact]
    public async Task A_writer_that_meets_a_fault_it_does_not_expect_says_so_refuses_every_waiting_and_new_append_and_tells_the_host()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync, logger: _log);
        await outbox.AppendAsync(OutboxFolder.Message("t/0"));
        sync.Entered.Reset();
        sync.Close();
        Task<long> held;
        Task<long>[] queued;
        try
        {
            held = outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet); // the writer is inside that commit's fsync
            queued = Enumerable.Range(0, 5).Select(i => outbox.AppendAsync(OutboxFolder.Message($"t/q{i}")).AsTask()).ToArray();
            sync.FailNext = new NullReferenceException("a fault of the gateway's own, not the disk's");
        }
        finally
        {
            sync.Open();
        }

        var fault = await outbox.Faulted.WaitAsync(Patience.Reaction);
        Assert.IsType<NullReferenceException>(fault);
        foreach (var append in queued.Prepend(held))
        {
            var refused = await Assert.ThrowsAsync<OutboxRejectedException>(() => append.WaitAsync(Patience.Reaction));
            Assert.Equal(OutboxRejection.Unavailable, refused.Reason);
        }
        var later = await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message("t/later")).AsTask().WaitAsync(Patience.Reaction));
        Assert.Contains("the store's writer stopped", later.Message);
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Critical && l.Exception is NullReferenceException);
        Assert.Equal(1, _folder.Metrics.Get("outbox_writer_failures_total"));

        await outbox.DisposeAsync(); // closes what it can, and never throws
    }

    [Fact]
    public async Task A_failing_disk_is_not_a_fault_of_the_writer_which_refuses_and_goes_on()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync, logger: _log);
        sync.FailNext = new IOException("Input/output error");
        await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask());
        Assert.Equal(2, await outbox.AppendAsync(OutboxFolder.Message("t/2")).AsTask().WaitAsync(Patience.Reaction));
        Assert.False(outbox.Faulted.IsCompleted);
        Assert.DoesNotContain(_log.Lines, l => l.Level == LogLevel.Critical);
    }

    /// <summary>Keeps what was logged, for tests that check a line was (or was not) written.</summary>
    private sealed class ListLogger : ILogger<LiteDbOutbox>
    {
        private readonly List<(LogLevel Level, string Message, Exception? Exception)> _lines = [];

        public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Lines
        {
            get
            {
                lock (_lines) return [.. _lines];
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines) _lines.Add((logLevel, formatter(state, exception), exception));
        }
    }
}
