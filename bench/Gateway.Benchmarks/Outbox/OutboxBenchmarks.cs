using BenchmarkDotNet.Attributes;
using Gateway.Core.Forwarding;

namespace Gateway.Benchmarks.Outbox;

/// <summary>
/// Group commit: N messages enqueued back to back (each <c>EnqueueAsync</c> returns once queued, so
/// all N are in flight at once, like N clients with one unacknowledged publish each), then every
/// commit awaited. The writer commits whatever is queued when it comes round, so N messages take a
/// few groups, each one transaction and one fsync. Time and allocations are per N messages.
/// </summary>
/// <remarks>
/// Allocations are the whole process's (BenchmarkDotNet counts GC.GetTotalAllocatedBytes), so they
/// include the writer thread's LiteDB documents and pages, not only the caller's tasks.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(64)]
public class OutboxGroupCommitBenchmarks
{
    private BenchOutbox _bench = null!;
    private Task<long>[] _commits = [];
    private long _groupsBefore, _appendedBefore, _groups, _appended;

    [Params(1, 100, 1000)]
    public int N { get; set; }

    [Params(DiskSyncMode.Fsync, DiskSyncMode.NoOp)]
    public DiskSyncMode Sync { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _bench = BenchOutbox.Open(Sync);
        _commits = new Task<long>[N];
    }

    [IterationSetup]
    public void IterationSetup()
    {
        _bench.Reset(preload: 1);
        _groupsBefore = _bench.Metrics.Get("outbox_group_commits_total");
        _appendedBefore = _bench.Metrics.Get("outbox_appended_total");
    }

    [IterationCleanup]
    public void IterationCleanup()
    {
        // Every group committed during the iteration held appends only (the forwarder's moves happen in Reset).
        _groups += _bench.Metrics.Get("outbox_group_commits_total") - _groupsBefore;
        _appended += _bench.Metrics.Get("outbox_appended_total") - _appendedBefore;
    }

    [Benchmark(Description = "EnqueueAsync x N, await all commits")]
    public async Task<long> EnqueueAndAwaitAll()
    {
        var message = _bench.Message;
        for (var i = 0; i < _commits.Length; i++) _commits[i] = await _bench.Outbox.EnqueueAsync(message).ConfigureAwait(false);
        await Task.WhenAll(_commits).ConfigureAwait(false);
        return _commits[^1].Result;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Printed into the BenchmarkDotNet log: how large the groups actually were.
        if (_groups > 0)
            Console.WriteLine($"// outbox groups: {_appended} messages in {_groups} group commits, {(double)_appended / _groups:0.0} per group (N={N}, {Sync})");
        _bench.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

/// <summary>
/// One message, stored and awaited before the next: the commit latency a single QoS 1 connection sees
/// between PUBLISH and PUBACK (one transaction and one fsync per message, no group to share it).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(512)]
public class OutboxSingleAppendBenchmarks
{
    private BenchOutbox _bench = null!;

    [Params(DiskSyncMode.Fsync, DiskSyncMode.NoOp)]
    public DiskSyncMode Sync { get; set; }

    [GlobalSetup]
    public void Setup() => _bench = BenchOutbox.Open(Sync);

    [IterationSetup]
    public void IterationSetup() => _bench.Reset(preload: 1);

    [Benchmark(Description = "AppendAsync one message")]
    public ValueTask<long> AppendOne() => _bench.Outbox.AppendAsync(_bench.Message);

    [GlobalCleanup]
    public void Cleanup() => _bench.DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>
/// The forwarder's path for one batch of 500 (its default batch size): <c>ReadAfter</c> (LiteDB reads
/// and chunks decoded back into messages), then <c>AdvanceCursorAsync</c> and, unlike the forwarder,
/// waiting for that move to be committed: the cursor upsert and the removal of 500 messages (bits in
/// chunk heads, whole chunks deleted).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(16)]
public class OutboxForwarderReadBenchmarks
{
    private const int Batch = 500;
    private const int Invocations = 16;

    private BenchOutbox _bench = null!;

    [Params(DiskSyncMode.Fsync, DiskSyncMode.NoOp)]
    public DiskSyncMode Sync { get; set; }

    [GlobalSetup]
    public void Setup() => _bench = BenchOutbox.Open(Sync);

    /// <summary>One batch per invocation, and one message more, so the store is not drained (and checkpointed) while measuring.</summary>
    [IterationSetup]
    public void IterationSetup() => _bench.Reset(preload: Invocations * Batch + 1);

    [Benchmark(Description = "ReadAfter 500 + AdvanceCursorAsync, committed")]
    public async Task<int> ReadAndAdvance()
    {
        var read = await _bench.ForwardBatchAsync(Batch, ForwarderOptions.Default.BatchMaxBytes).ConfigureAwait(false);
        if (read != Batch) throw new InvalidOperationException($"read {read} messages, expected {Batch}");
        return read;
    }

    [GlobalCleanup]
    public void Cleanup() => _bench.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
