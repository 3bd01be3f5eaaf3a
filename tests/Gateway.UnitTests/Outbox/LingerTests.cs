using System.Diagnostics;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

/// <summary>
/// Messages nobody waits for (MQTT QoS 0, STOMP SEND without receipt) may wait up to
/// <see cref="LiteDbOutboxOptions.UnacknowledgedLinger"/> to share a commit; nothing somebody waits for does.
/// </summary>
public sealed class LingerTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private LiteDbOutbox Open(TimeSpan linger, RouteTable? routes = null) =>
        _folder.Open(routes, configure: o => o with { UnacknowledgedLinger = linger });

    private long GroupCommits => _folder.Metrics.Get("outbox_group_commits_total");

    /// <summary>Enqueues <paramref name="count"/> messages nobody waits for, <paramref name="gap"/> apart.</summary>
    private static async Task<List<Task<long>>> TrickleAsync(LiteDbOutbox outbox, int count, TimeSpan gap, string topic = "t/lazy")
    {
        var commits = new List<Task<long>>();
        for (var i = 0; i < count; i++)
        {
            commits.Add(await outbox.EnqueueAsync(OutboxFolder.Message(topic, $"m{i}"), awaited: false));
            await Task.Delay(gap);
        }
        return commits;
    }

    [Fact]
    public async Task Messages_nobody_waits_for_that_arrive_within_the_linger_share_one_commit()
    {
        var outbox = Open(TimeSpan.FromSeconds(3));
        await outbox.AppendAsync(OutboxFolder.Message("t/warm")); // the first commit into new files, out of the count
        var before = GroupCommits;

        var commits = await TrickleAsync(outbox, 10, TimeSpan.FromMilliseconds(30));
        var sequences = await Task.WhenAll(commits).WaitAsync(Patience.Reaction);

        Assert.Equal(Enumerable.Range(2, 10).Select(i => (long)i), sequences);
        Assert.Equal(1, GroupCommits - before);
        Assert.Equal(11, outbox.Count);
    }

    [Fact]
    public async Task The_linger_ends_at_its_time_when_nothing_else_comes()
    {
        var outbox = Open(TimeSpan.FromMilliseconds(300));
        await outbox.AppendAsync(OutboxFolder.Message("t/warm"));

        var clock = Stopwatch.StartNew();
        var commit = await outbox.EnqueueAsync(OutboxFolder.Message("t/lazy"), awaited: false);
        await commit.WaitAsync(Patience.Reaction);
        clock.Stop();

        // Not before the linger is over (less a coarse clock's step), and not long after.
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(280), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Without_a_linger_each_message_nobody_waits_for_is_committed_on_its_own()
    {
        var outbox = Open(TimeSpan.Zero);
        await outbox.AppendAsync(OutboxFolder.Message("t/warm"));
        var before = GroupCommits;

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            await (await outbox.EnqueueAsync(OutboxFolder.Message("t/lazy", $"m{i}"), awaited: false)).WaitAsync(Patience.Reaction);
        }
        clock.Stop();

        Assert.Equal(5, GroupCommits - before);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"five commits took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_message_somebody_waits_for_ends_the_linger_and_takes_the_waiting_ones_with_it()
    {
        var outbox = Open(TimeSpan.FromSeconds(60));
        await outbox.AppendAsync(OutboxFolder.Message("t/warm"));
        var before = GroupCommits;

        var lazy = await TrickleAsync(outbox, 3, TimeSpan.FromMilliseconds(10));
        Assert.DoesNotContain(lazy, c => c.IsCompleted); // lingering: 60 s is far off

        var acked = await outbox.AppendAsync(OutboxFolder.Message("t/acked")).AsTask().WaitAsync(Patience.Reaction);

        Assert.Equal(5, acked);
        var sequences = await Task.WhenAll(lazy).WaitAsync(Patience.Reaction);
        Assert.Equal(new long[] { 2L, 3L, 4L }, sequences);
        Assert.Equal(1, GroupCommits - before);
    }

    [Fact]
    public async Task An_upstream_s_confirmation_joins_the_linger_instead_of_ending_it()
    {
        var routes = new RouteTable([new Route("t/#", "a", new RouteTarget())], ["a"]);
        var outbox = Open(TimeSpan.FromSeconds(60), routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/warm"));
        var before = GroupCommits;

        var lazy = await TrickleAsync(outbox, 2, TimeSpan.FromMilliseconds(10));
        await outbox.AdvanceCursorAsync("a", 1, outbox.ReadAfter(0, 1, 1 << 20));
        // Nothing outside the writer shows it took the confirmation, so watch the commits for a while.
        Assert.True(await Poll.StaysPendingAsync(Task.WhenAny(lazy)), "the confirmation ended the linger");

        await outbox.AppendAsync(OutboxFolder.Message("t/acked")).AsTask().WaitAsync(Patience.Reaction);

        var sequences = await Task.WhenAll(lazy).WaitAsync(Patience.Reaction);
        Assert.Equal(new long[] { 2L, 3L }, sequences);
        // The cursor move is committed with the appends or right after them (CommitGroup puts appends first).
        await Poll.UntilAsync(() => outbox.GetCursor("a") == 1);
        Assert.Equal(1, outbox.GetCursor("a"));
        Assert.Equal([2L, 3L, 4L], outbox.ReadAfter(0, 100, 1 << 20).Select(m => m.Sequence)); // the confirmed one is gone
        Assert.InRange(GroupCommits - before, 1, 2); // the appends and the cursor move: together, or the appends first
    }

    [Fact]
    public async Task Asking_for_the_commit_now_ends_the_linger()
    {
        var outbox = Open(TimeSpan.FromSeconds(60));
        await outbox.AppendAsync(OutboxFolder.Message("t/warm"));
        var before = GroupCommits;
        var lazy = await TrickleAsync(outbox, 3, TimeSpan.FromMilliseconds(10));
        Assert.DoesNotContain(lazy, c => c.IsCompleted);

        outbox.CommitLingeringNow();

        var sequences = await Task.WhenAll(lazy).WaitAsync(Patience.Reaction);
        Assert.Equal(new long[] { 2L, 3L, 4L }, sequences);
        Assert.Equal(1, GroupCommits - before);
    }

    [Fact]
    public async Task Closing_the_store_commits_what_was_lingering_and_it_is_there_after_a_restart()
    {
        var outbox = Open(TimeSpan.FromSeconds(60));
        var lazy = await TrickleAsync(outbox, 5, TimeSpan.FromMilliseconds(5));
        Assert.DoesNotContain(lazy, c => c.IsCompleted);

        await outbox.DisposeAsync().AsTask().WaitAsync(Patience.Reaction);

        await Task.WhenAll(lazy).WaitAsync(Patience.Reaction);
        var reopened = Open(TimeSpan.FromSeconds(60));
        Assert.Equal(5, reopened.Count);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"],
            reopened.ReadAfter(0, 100, 1 << 20).Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Payload.Span)));
    }
}
