using Gateway.Core.Outbox;

namespace Gateway.UnitTests.Outbox;

/// <summary>A commit is written before it is synced: nothing of it may be forwarded until the sync, nor ever if the sync fails (its acks were refused).</summary>
public sealed class UnsyncedCommitTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private static string[] Topics(Gateway.Storage.LiteDb.LiteDbOutbox outbox) => outbox.ReadAfter(0, 100, 1 << 20).Select(m => m.Message.Topic).ToArray();

    [Fact]
    public async Task A_message_is_not_read_for_forwarding_before_its_commit_is_on_disk()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync);
        await outbox.AppendAsync(OutboxFolder.Message("t/0"));
        sync.Entered.Reset();
        sync.Close();
        Task<long> append;
        try
        {
            append = outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet); // written and committed, the writer inside its fsync
            Assert.Equal(["t/0"], Topics(outbox));
        }
        finally
        {
            sync.Open();
        }
        await append.WaitAsync(Patience.Reaction);
        Assert.Equal(["t/0", "t/1"], Topics(outbox));
    }

    [Fact]
    public async Task A_message_whose_commit_could_not_be_synced_is_refused_never_read_and_deleted_by_the_next_commit()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        sync.FailNext = new IOException("Input/output error");

        var refused = await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message("t/2")).AsTask());
        Assert.Equal(OutboxRejection.StoreFailed, refused.Reason);
        Assert.Equal(["t/1"], Topics(outbox));

        await outbox.AppendAsync(OutboxFolder.Message("t/3"));
        Assert.Equal(["t/1", "t/3"], Topics(outbox));
        Assert.Equal(2, outbox.Count);
        await outbox.DisposeAsync();

        var reopened = _folder.Open();
        Assert.Equal(["t/1", "t/3"], Topics(reopened));
        Assert.Equal(2, reopened.Count);
    }
}
