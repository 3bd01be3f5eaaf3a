using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class StoreTotalsTests : IDisposable
{
    private readonly MemoryChunkStore _store = new();
    private long _now = 1_000;

    public void Dispose() => _store.Dispose();

    private StoreTotals Totals(int everyCommits = 1000, long everyBytes = 1 << 30, int everyMs = 60_000) =>
        new(_store.Db, everyCommits, everyBytes, TimeSpan.FromMilliseconds(everyMs), () => _now);

    [Fact]
    public void A_store_without_totals_is_counted_from_its_chunks()
    {
        _store.Insert(1, 0, "t/1", "t/22");
        Assert.Equal((2L, 7L), Totals().Read(_store.Chunks));
        Assert.Equal(0, Totals().StoredSequence);
    }

    [Fact]
    public void Chunks_appended_after_the_totals_were_written_are_added_to_them()
    {
        var totals = Totals();
        _store.Insert(1, 0, "t/1");
        _store.InTransaction(() => totals.Write(1, 3, 1));
        _store.Insert(2, 0, "t/22", "t/333");

        Assert.Equal((3L, 12L), Totals().Read(_store.Chunks));
        Assert.Equal(1, Totals().StoredSequence);
    }

    [Fact]
    public void An_appending_commit_writes_them_every_so_many_commits()
    {
        var totals = Totals(everyCommits: 3);
        Assert.True(totals.DueAfterAppend(10)); // the first after opening always does
        _store.InTransaction(() => totals.Write(1, 10, 1));
        Assert.False(totals.DueAfterAppend(10));
        Assert.False(totals.DueAfterAppend(10));
        Assert.True(totals.DueAfterAppend(10));
    }

    [Fact]
    public void An_appending_commit_writes_them_after_so_many_bytes_or_so_long()
    {
        var totals = Totals(everyBytes: 100, everyMs: 1000);
        _store.InTransaction(() => totals.Write(0, 0, 0));
        Assert.False(totals.DueAfterAppend(60));
        Assert.True(totals.DueAfterAppend(60));

        _store.InTransaction(() => totals.Write(0, 0, 0));
        Assert.False(totals.DueAfterAppend(1));
        _now += 1000;
        Assert.True(totals.DueAfterAppend(1));
    }
}
