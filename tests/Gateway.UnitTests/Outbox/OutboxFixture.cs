using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Outbox;

/// <summary>An outbox on a fresh temporary folder, reopenable with other routes; deletes the folder at the end.</summary>
public sealed class OutboxFolder : IAsyncDisposable
{
    private readonly List<LiteDbOutbox> _opened = [];

    public string Path { get; } = Directory.CreateTempSubdirectory("outbox-test-").FullName;

    public GatewayMetrics Metrics { get; } = new();

    public LiteDbOutbox Open(RouteTable? routes = null, IDiskSync? sync = null, int maxGroup = 1000, TimeSpan? sweepEvery = null,
        Func<LiteDbOutboxOptions, LiteDbOutboxOptions>? configure = null, Microsoft.Extensions.Logging.ILogger<LiteDbOutbox>? logger = null)
    {
        var options = new LiteDbOutboxOptions { DataPath = Path, MaxGroupMessages = maxGroup, MaxMessageBytes = 4096, ExpirySweepInterval = sweepEvery ?? TimeSpan.FromSeconds(10) };
        var outbox = new LiteDbOutbox(
            configure?.Invoke(options) ?? options,
            routes ?? new RouteTable([], []),
            Metrics,
            logger ?? NullLogger<LiteDbOutbox>.Instance,
            sync);
        outbox.Open();
        _opened.Add(outbox);
        return outbox;
    }

    /// <summary>Opens the folder's LiteDB files directly (no outbox open on them), lets <paramref name="edit"/> change them, and checkpoints.</summary>
    public void WithStore(Action<LiteDB.LiteDatabase> edit)
    {
        using var data = new DurableFileStream(new FileStream(System.IO.Path.Combine(Path, "outbox.db"), FileMode.OpenOrCreate), FsyncDiskSync.Instance);
        using var log = StoreFiles.OpenLog(System.IO.Path.Combine(Path, "outbox-wal.db"), FsyncDiskSync.Instance, 1 << 20);
        using var db = new LiteDB.LiteDatabase(data, new LiteDB.BsonMapper(), log);
        edit(db);
        db.Checkpoint();
    }

    public static IncomingMessage Message(string topic, string payload = "x", string client = "c1") => new()
    {
        Topic = topic,
        Payload = System.Text.Encoding.UTF8.GetBytes(payload),
        Qos = QualityOfService.AtLeastOnce,
        ClientId = client,
        ReceivedAt = DateTimeOffset.UtcNow,
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var outbox in _opened) await outbox.DisposeAsync();
        Directory.Delete(Path, recursive: true);
    }
}
