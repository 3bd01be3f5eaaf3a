using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks.Outbox;

/// <summary>How the outbox makes a commit durable in a benchmark.</summary>
public enum DiskSyncMode
{
    /// <summary>The production <see cref="FsyncDiskSync"/>: fsync of the log after every group commit.</summary>
    Fsync,

    /// <summary>No fsync at all: everything else the commit does, so the difference is the fsync's cost.</summary>
    NoOp,
}

/// <summary>An <see cref="IDiskSync"/> that does nothing (the data stays in the page cache).</summary>
internal sealed class NoOpDiskSync : IDiskSync
{
    public static NoOpDiskSync Instance { get; } = new();

    public void Sync(FileStream file)
    {
    }
}

/// <summary>
/// A <see cref="LiteDbOutbox"/> with production options on a fresh folder, one route to one upstream,
/// and the forwarder's side (read, advance the cursor, which deletes what was passed) to keep it from
/// filling up between iterations.
/// </summary>
internal sealed class BenchOutbox : IAsyncDisposable
{
    public const string Upstream = "cloud";
    public const int PayloadBytes = 256;

    /// <summary>Where the data folders go; defaults to the temp folder. Set it to benchmark another disk (an SD card).</summary>
    public const string DataRootVariable = "GATEWAY_BENCH_DATA";

    private long _position;

    private BenchOutbox(string folder, LiteDbOutbox outbox, GatewayMetrics metrics)
    {
        Folder = folder;
        Outbox = outbox;
        Metrics = metrics;
    }

    public string Folder { get; }

    public LiteDbOutbox Outbox { get; }

    public GatewayMetrics Metrics { get; }

    /// <summary>One 256-byte QoS 1 publish; the same instance is stored again and again (the outbox copies it into a document).</summary>
    public IncomingMessage Message { get; } = new()
    {
        Topic = "sensors/site1/line3/temperature",
        Payload = Enumerable.Range(0, PayloadBytes).Select(i => (byte)('0' + i % 10)).ToArray(),
        Qos = QualityOfService.AtLeastOnce,
        ContentType = "application/json",
        ClientId = "plc-17",
        ReceivedAt = DateTimeOffset.UtcNow,
    };

    public static BenchOutbox Open(DiskSyncMode mode)
    {
        var root = Environment.GetEnvironmentVariable(DataRootVariable);
        var folder = string.IsNullOrEmpty(root)
            ? Directory.CreateTempSubdirectory("gateway-bench-outbox-").FullName
            : Directory.CreateDirectory(Path.Combine(root, $"gateway-bench-outbox-{Guid.NewGuid():N}")).FullName;
        var routes = new RouteTable(
            [new Route("sensors/#", Upstream, new RouteTarget(Exchange: "telemetry"))],
            [Upstream]);
        var metrics = new GatewayMetrics();
        var outbox = new LiteDbOutbox(
            new LiteDbOutboxOptions { DataPath = folder },
            routes,
            metrics,
            NullLogger<LiteDbOutbox>.Instance,
            mode == DiskSyncMode.Fsync ? FsyncDiskSync.Instance : NoOpDiskSync.Instance);
        outbox.Open();
        return new BenchOutbox(folder, outbox, metrics);
    }

    /// <summary>
    /// Between iterations: deletes everything stored (as the forwarder would once the upstream confirmed
    /// it), then stores <paramref name="preload"/> messages, at least one. The store is never left empty
    /// while measuring, so the writer's checkpoint-when-drained runs here and not inside a measurement.
    /// </summary>
    public void Reset(int preload)
    {
        Drain();
        var commits = new Task<long>[Math.Max(1, preload)];
        for (var i = 0; i < commits.Length; i++) commits[i] = Outbox.EnqueueAsync(Message).AsTask().GetAwaiter().GetResult();
        Task.WhenAll(commits).GetAwaiter().GetResult();
    }

    /// <summary>The forwarder's step: read a batch after its position, confirm all of it, wait until the cursor move is committed.</summary>
    /// <returns>How many messages were read.</returns>
    public async ValueTask<int> ForwardBatchAsync(int maxCount, int maxBytes)
    {
        var batch = Outbox.ReadAfter(_position, maxCount, maxBytes);
        if (batch.Count == 0) return 0;
        var through = batch[^1].Sequence;
        await Outbox.AdvanceCursorAsync(Upstream, through, batch).ConfigureAwait(false);
        // AdvanceCursorAsync completes once queued; the forwarder's next round is free to go on, but
        // the benchmark waits for the commit (and its deletes and fsync) so that is measured too.
        WaitForCursor(through);
        _position = through;
        return batch.Count;
    }

    private void WaitForCursor(long through)
    {
        var spinner = new SpinWait();
        // No Sleep(1): a commit takes from tens of microseconds to milliseconds, a 1 ms tick would blur it.
        while (Outbox.GetCursor(Upstream) < through) spinner.SpinOnce(sleep1Threshold: -1);
    }

    private void Drain()
    {
        while (ForwardBatchAsync(5000, int.MaxValue).AsTask().GetAwaiter().GetResult() > 0)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Outbox.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is not worth failing the run for
        }
    }
}
