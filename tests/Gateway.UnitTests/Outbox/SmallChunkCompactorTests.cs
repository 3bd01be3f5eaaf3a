using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Outbox;

public sealed class SmallChunkCompactorTests : IDisposable
{
    private readonly MemoryChunkStore _store = new();
    private readonly List<(long First, long Last)> _joined = [];
    private Func<long, bool> _passed = _ => false;
    private bool _joinFails;

    public void Dispose() => _store.Dispose();

    private SmallChunkCompactor Compactor(long behind = 0) => new(behind, s => _passed(s), () => false, Join, NullLogger.Instance);

    private bool Join(IReadOnlyList<StoredChunk> run)
    {
        if (_joinFails) return false;
        _store.InTransaction(() => _store.Chunks.ReplaceWithJoined(run, ChunkStore.Join(run)));
        _joined.Add((run[0].First, run[^1].Last));
        return true;
    }

    /// <summary>Stores one-message chunks for <paramref name="first"/>..<paramref name="last"/>, noting each as the writer does when given a compactor.</summary>
    private void OneByOne(long first, long last, SmallChunkCompactor? noting = null)
    {
        for (var s = first; s <= last; s++)
        {
            _store.Insert(s, 0, $"t/{s}");
            noting?.NoteNewChunk(s, s, 1, 40);
        }
    }

    private void Big(long first, int count, SmallChunkCompactor compactor)
    {
        _store.Insert(first, 0, Enumerable.Range(0, count).Select(i => $"t/{first + i}").ToArray());
        compactor.NoteNewChunk(first, first + count - 1, count, 40 * count);
    }

    /// <summary>Steps until there is nothing more to do now; how many steps did something.</summary>
    private int StepUntilIdle(SmallChunkCompactor compactor, long lastCommitted)
    {
        var steps = 0;
        while (compactor.Pending && compactor.TryStep(_store.Chunks, lastCommitted)) steps++;
        return steps;
    }

    private int ChunkCount => _store.Chunks.ChunksAbove(0).Count();

    [Fact]
    public void A_full_run_of_small_chunks_behind_the_newest_is_joined_in_one_step_and_the_order_kept()
    {
        var compactor = Compactor();
        OneByOne(1, SmallChunkCompactor.MinRun, compactor);

        Assert.Equal(1, StepUntilIdle(compactor, SmallChunkCompactor.MinRun));

        Assert.Equal([(1L, (long)SmallChunkCompactor.MinRun)], _joined);
        Assert.Equal(1, ChunkCount);
        Assert.Equal(Enumerable.Range(1, SmallChunkCompactor.MinRun).Select(i => $"t/{i}"), _store.Topics());
        Assert.False(compactor.Pending);
    }

    [Fact]
    public void Small_chunks_too_close_to_the_newest_wait_for_more_commits()
    {
        var compactor = Compactor(behind: 1000);
        OneByOne(1, SmallChunkCompactor.MinRun, compactor);

        Assert.Equal(0, StepUntilIdle(compactor, SmallChunkCompactor.MinRun));
        Assert.Empty(_joined);
        Assert.False(compactor.Pending);

        Big(SmallChunkCompactor.MinRun + 1, 1000, compactor); // they are far enough behind now
        Assert.True(compactor.Pending);
        StepUntilIdle(compactor, SmallChunkCompactor.MinRun + 1000);
        Assert.Equal([(1L, (long)SmallChunkCompactor.MinRun)], _joined);
    }

    [Fact]
    public void A_short_run_ended_by_a_big_chunk_is_joined_and_a_shorter_one_left_alone()
    {
        var compactor = Compactor();
        const int few = SmallChunkCompactor.MinBlockedRun - 1, enough = SmallChunkCompactor.MinBlockedRun;
        OneByOne(1, few, compactor);
        Big(few + 1, 20, compactor);
        OneByOne(few + 21, few + 20 + enough, compactor);
        Big(few + 21 + enough, 20, compactor);
        OneByOne(few + 41 + enough, few + 41 + enough, compactor); // ends the second run

        StepUntilIdle(compactor, few + 41 + enough);

        Assert.Equal([((long)few + 21, (long)few + 20 + enough)], _joined);
        Assert.Equal(few + 1 + 1 + 1 + 1, ChunkCount);
    }

    [Fact]
    public void Chunks_every_upstream_has_passed_are_not_joined()
    {
        var compactor = Compactor();
        OneByOne(1, SmallChunkCompactor.MinRun, compactor);
        _passed = s => s <= 10; // leaving anyway: what is left is too short a run

        StepUntilIdle(compactor, SmallChunkCompactor.MinRun);

        Assert.Empty(_joined);
        Assert.Equal(SmallChunkCompactor.MinRun, ChunkCount);
    }

    [Fact]
    public void A_failed_join_leaves_the_chunks_and_waits_for_the_next_commit()
    {
        var compactor = Compactor();
        OneByOne(1, SmallChunkCompactor.MinRun, compactor);
        _joinFails = true;

        compactor.TryStep(_store.Chunks, SmallChunkCompactor.MinRun);

        Assert.False(compactor.Pending);
        Assert.Equal(SmallChunkCompactor.MinRun, ChunkCount);
    }

    [Fact]
    public void The_rescan_joins_small_chunks_stored_before_opening_and_then_ends()
    {
        OneByOne(1, 100);
        _store.Insert(101, 0, Enumerable.Range(101, 20).Select(i => $"t/{i}").ToArray());
        OneByOne(121, 120 + SmallChunkCompactor.MinBlockedRun - 1); // too few after the big one
        var compactor = Compactor();
        compactor.StartRescan(120 + SmallChunkCompactor.MinBlockedRun - 1);
        Assert.True(compactor.Rescanning);

        StepUntilIdle(compactor, 120 + SmallChunkCompactor.MinBlockedRun - 1);

        Assert.Equal([(1L, 100L)], _joined);
        Assert.False(compactor.Rescanning);
        Assert.Equal(Enumerable.Range(1, 120 + SmallChunkCompactor.MinBlockedRun - 1).Select(i => $"t/{i}"), _store.Topics());
    }

    [Fact]
    public void A_rescan_waiting_for_newer_messages_is_woken_once_every_upstream_has_passed_its_chunks()
    {
        OneByOne(1, 30);
        var compactor = Compactor(behind: 20);
        compactor.StartRescan(30);
        StepUntilIdle(compactor, 30); // only 10 far enough behind: it waits
        Assert.True(compactor.Rescanning);
        Assert.False(compactor.Pending);

        _passed = s => s <= 30;
        compactor.NoteCursorsMoved();
        Assert.True(compactor.Pending);
        StepUntilIdle(compactor, 30);
        Assert.False(compactor.Rescanning);
        Assert.Empty(_joined);
    }

    [Fact]
    public void A_step_that_cannot_read_the_store_never_throws_and_stops_until_something_changes()
    {
        OneByOne(1, 10);
        var compactor = Compactor();
        compactor.StartRescan(10);
        _store.Db.Dispose();

        Assert.False(compactor.TryStep(_store.Chunks, 10));
        Assert.False(compactor.Pending);
        Assert.False(compactor.Rescanning);
    }
}
