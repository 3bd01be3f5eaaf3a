using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

/// <summary>Writes outside the group commit (sweeps, checkpoints) meeting a full disk: refused, never the writer stopped.</summary>
public sealed class FullDiskTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();
    private readonly FullDiskSync _sync = new();
    private long _free = 1L << 30;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private LiteDbOutbox Open(RouteTable? routes = null) => _folder.Open(routes, sync: _sync, sweepEvery: TimeSpan.FromMilliseconds(100),
        configure: o => o with { MinFreeDiskBytes = 0, FreeSpace = _ => Interlocked.Read(ref _free) });

    private void Fill()
    {
        Interlocked.Exchange(ref _free, 0);
        _sync.Full = true;
    }

    private void MakeRoom()
    {
        _sync.Full = false;
        Interlocked.Exchange(ref _free, 1L << 30);
    }

    private static async Task<bool> Accepts(LiteDbOutbox outbox, string topic)
    {
        try
        {
            await outbox.AppendAsync(OutboxFolder.Message(topic));
            return true;
        }
        catch (OutboxRejectedException)
        {
            return false;
        }
    }

    /// <summary>A store that held one message, drained as the disk filled: its checkpoint found no room.</summary>
    private async Task<LiteDbOutbox> DrainedOntoAFullDiskAsync()
    {
        var outbox = Open(new RouteTable([new Route("t/#", "up", new RouteTarget())], ["up"]));
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        Fill();
        var stored = outbox.ReadAfter(0, 10, 1 << 20);
        await outbox.AdvanceCursorAsync("up", stored[^1].Sequence, stored); // drained: the writer checkpoints
        await Poll.UntilAsync(() => outbox.DiskFull);
        return outbox;
    }

    [Fact]
    public async Task An_expiry_sweep_that_finds_no_room_refuses_new_messages_until_there_is_room_and_the_writer_lives_on()
    {
        var outbox = Open();
        // Expiring well after the disk is made full below, so the sweep that removes it meets the full disk.
        await outbox.AppendAsync(OutboxFolder.Message("t/expiring") with { ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(2) });
        await outbox.AppendAsync(OutboxFolder.Message("t/kept"));
        Fill();
        Assert.Equal(2, outbox.Count);

        await Poll.UntilAsync(() => outbox.DiskFull); // the sweep's commit could not be made durable
        var refused = await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message("t/refused")).AsTask());
        Assert.Equal(OutboxRejection.StoreFailed, refused.Reason);
        Assert.Contains("no room on the disk", refused.Message);
        Assert.Contains("t/kept", outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic)); // still read

        MakeRoom();
        await Poll.UntilAsync(() => Accepts(outbox, "t/after"));
        Assert.False(outbox.Faulted.IsCompleted);
        Assert.Equal(["t/kept", "t/after"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(2, outbox.Count);
    }

    [Fact]
    public async Task A_checkpoint_that_finds_no_room_keeps_the_log_and_refuses_new_messages_until_there_is_room()
    {
        var outbox = await DrainedOntoAFullDiskAsync();
        Assert.Equal(0, outbox.Count);
        Assert.True(outbox.LogBytes > 0);
        Assert.False(await Accepts(outbox, "t/refused"));

        MakeRoom();
        await Poll.UntilAsync(() => Accepts(outbox, "t/2"));
        Assert.Equal(["t/2"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.False(outbox.Faulted.IsCompleted);
        await outbox.DisposeAsync();
        Assert.Equal(["t/2"], _folder.Open().ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
    }

    [Fact]
    public async Task Room_for_a_checkpoint_but_not_for_messages_keeps_refusing_until_a_few_MiB_are_free()
    {
        var outbox = await DrainedOntoAFullDiskAsync();
        var checkpoints = _folder.Metrics.Get("outbox_checkpoints_total");

        _sync.Full = false;
        Interlocked.Exchange(ref _free, 2L << 20); // enough for the checkpoint to be tried and to succeed
        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_checkpoints_total") > checkpoints);
        Assert.True(outbox.DiskFull);
        Assert.False(await Accepts(outbox, "t/refused"));

        Interlocked.Exchange(ref _free, 1L << 30);
        await Poll.UntilAsync(() => Accepts(outbox, "t/2"));
        Assert.False(outbox.DiskFull);
    }

    [Fact]
    public async Task Closing_on_a_full_disk_does_not_throw_and_what_was_stored_is_there_at_the_next_start()
    {
        var outbox = Open();
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        Fill();
        await outbox.DisposeAsync(); // its checkpoint fails: the log is kept

        MakeRoom();
        Assert.Equal(["t/1"], Open().ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
    }

    /// <summary>Syncs, or fails every sync with ENOSPC (as .NET reports it: an IOException whose HResult is the errno) while full.</summary>
    private sealed class FullDiskSync : IDiskSync
    {
        private volatile bool _full;

        public bool Full
        {
            get => _full;
            set => _full = value;
        }

        public void Sync(FileStream file)
        {
            if (_full) throw new IOException($"No space left on device : '{file.Name}'", 28);
            file.Flush(flushToDisk: true);
        }
    }
}
