using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class QuotaTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private static readonly RouteTable TwoRoutes = new(
        [new Route("a/#", "up", new RouteTarget()), new Route("b/#", "up", new RouteTarget())], ["up"]);

    private static Task<OutboxRejectedException> Refused(LiteDbOutbox outbox, string topic, int size = 1) =>
        Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message(topic, new string('x', size))).AsTask());

    [Fact]
    public async Task RejectNew_refuses_at_the_message_limit_and_accepts_again_once_there_is_room()
    {
        var outbox = _folder.Open(TwoRoutes, configure: o => o with { MaxMessages = 5 });
        for (var i = 0; i < 5; i++) await outbox.AppendAsync(OutboxFolder.Message($"a/{i}"));

        var refused = await Refused(outbox, "a/5");
        Assert.Equal(OutboxRejection.QuotaExceeded, refused.Reason);
        Assert.Contains("the store is full", refused.Message);
        Assert.Equal(5, outbox.Count);

        var stored = outbox.ReadAfter(0, 10, 1 << 20);
        await outbox.AdvanceCursorAsync("up", stored[1].Sequence, stored.Take(2).ToArray());
        await Poll.UntilAsync(() => outbox.Count == 3);
        await outbox.AppendAsync(OutboxFolder.Message("a/6"));
        Assert.Equal(4, outbox.Count);
    }

    [Fact]
    public async Task RejectNew_refuses_at_the_byte_limit()
    {
        var outbox = _folder.Open(TwoRoutes, configure: o => o with { MaxBytes = 1000 });
        await outbox.AppendAsync(OutboxFolder.Message("a/1", new string('x', 600)));
        Assert.Equal(600, outbox.Bytes);
        Assert.Equal(OutboxRejection.QuotaExceeded, (await Refused(outbox, "a/2", 500)).Reason);
        await outbox.AppendAsync(OutboxFolder.Message("a/3", new string('x', 400)));
        Assert.Equal(1000, outbox.Bytes);
    }

    [Fact]
    public async Task DropOldest_removes_the_oldest_of_the_same_route_only_and_counts_it()
    {
        var outbox = _folder.Open(TwoRoutes, configure: o => o with { MaxMessages = 5, WhenFull = WhenFull.DropOldest });
        foreach (var topic in new[] { "b/1", "a/1", "a/2", "a/3", "b/2" }) await outbox.AppendAsync(OutboxFolder.Message(topic));

        await outbox.AppendAsync(OutboxFolder.Message("b/3"));

        Assert.Equal(["a/1", "a/2", "a/3", "b/2", "b/3"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, _folder.Metrics.Get("messages_dropped_total", "b/#"));
        Assert.Equal(0, _folder.Metrics.Get("messages_dropped_total", "a/#"));
    }

    [Fact]
    public async Task DropOldest_within_one_group_commit_keeps_the_newest_and_counts_the_rest()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(TwoRoutes, sync: sync, configure: o => o with { MaxMessages = 3, WhenFull = WhenFull.DropOldest });
        var sequences = await LiteDbOutboxTests.CommittedTogether(outbox, sync, ["b/0"], ["a/1", "a/2", "a/3", "a/4"]);

        // The store held b/0; a/1 and a/2 were each dropped by a newer message of their route in the same commit.
        Assert.Equal([2L, 3L, 4L, 5L], sequences);
        Assert.Equal(["b/0", "a/3", "a/4"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(3, outbox.Count);
        Assert.Equal(2, _folder.Metrics.Get("messages_dropped_total", "a/#"));
        await outbox.DisposeAsync();
        Assert.Equal(["b/0", "a/3", "a/4"], _folder.Open(TwoRoutes).ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
    }

    [Fact]
    public async Task DropOldest_never_takes_another_routes_messages_and_refuses_instead()
    {
        var outbox = _folder.Open(TwoRoutes, configure: o => o with { MaxMessages = 3, WhenFull = WhenFull.DropOldest });
        for (var i = 0; i < 3; i++) await outbox.AppendAsync(OutboxFolder.Message($"a/{i}"));

        Assert.Equal(OutboxRejection.QuotaExceeded, (await Refused(outbox, "b/1")).Reason);
        Assert.Equal(["a/0", "a/1", "a/2"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
    }

    [Fact]
    public async Task A_route_can_drop_while_the_store_rejects()
    {
        var routes = new RouteTable(
            [new Route("a/#", "up", new RouteTarget(), WhenFull: WhenFull.DropOldest), new Route("b/#", "up", new RouteTarget())], ["up"]);
        var outbox = _folder.Open(routes, configure: o => o with { MaxMessages = 2 });
        await outbox.AppendAsync(OutboxFolder.Message("a/1"));
        await outbox.AppendAsync(OutboxFolder.Message("b/1"));

        await outbox.AppendAsync(OutboxFolder.Message("a/2")); // drops a/1
        Assert.Equal(OutboxRejection.QuotaExceeded, (await Refused(outbox, "b/2")).Reason);
        Assert.Equal(["b/1", "a/2"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
    }

    [Fact]
    public async Task Below_the_free_space_watermark_everything_is_refused_until_space_returns()
    {
        long free = 10L << 20;
        var outbox = _folder.Open(TwoRoutes, configure: o => o with { MinFreeDiskBytes = 100L << 20, FreeSpace = _ => Interlocked.Read(ref free), WhenFull = WhenFull.DropOldest });

        var refused = await Refused(outbox, "a/1");
        Assert.Equal(OutboxRejection.QuotaExceeded, refused.Reason);
        Assert.Contains("disk is almost full (10 MiB free", refused.Message);

        Interlocked.Exchange(ref free, 1L << 30);
        // The disk is asked at most once a second: keep trying until the new reading is taken.
        await Poll.UntilAsync(async () =>
        {
            try { await outbox.AppendAsync(OutboxFolder.Message("a/2")); return true; }
            catch (OutboxRejectedException) { return false; }
        });
        Assert.Equal(1, outbox.Count);
    }

    [Fact]
    public async Task Stored_bytes_are_remembered_across_a_restart()
    {
        var outbox = _folder.Open(TwoRoutes);
        await outbox.AppendAsync(OutboxFolder.Message("a/1", new string('x', 300)));
        await outbox.AppendAsync(OutboxFolder.Message("b/1", new string('x', 200)));
        await outbox.DisposeAsync();

        Assert.Equal(500, _folder.Open(TwoRoutes).Bytes);
    }

    [Fact]
    public async Task Totals_are_right_after_a_restart_whatever_mix_of_commits_came_last()
    {
        // Commits that only append leave the stored totals behind for a while (to write less to the
        // card); a restart must add up what they appended, and not what a removal or a join already counted.
        var routes = new RouteTable([new Route("a/#", "up", new RouteTarget())], ["up"]);
        LiteDbOutboxOptions Rarely(LiteDbOutboxOptions o) => o with { TotalsEvery = TimeSpan.FromHours(1) }; // only the commit count brings them
        var outbox = _folder.Open(routes, configure: Rarely);
        var payloads = new List<int>();
        async Task AppendOne(int size)
        {
            await outbox.AppendAsync(OutboxFolder.Message("a/x", new string('x', size)));
            payloads.Add(size);
        }
        for (var i = 0; i < 10; i++) await AppendOne(100 + i); // a commit each
        await outbox.DisposeAsync();

        outbox = _folder.Open(routes, configure: Rarely);
        Assert.Equal(10, outbox.Count);
        Assert.Equal(payloads.Sum(), outbox.Bytes);

        // The upstream confirms the first four (a commit that rewrites the totals), then more appends follow.
        await outbox.AdvanceCursorAsync("up", 4, outbox.ReadAfter(0, 4, int.MaxValue));
        await Poll.UntilAsync(() => outbox.Count == 6);
        for (var i = 0; i < 7; i++) await AppendOne(50 + i);
        var expectedBytes = payloads.Skip(4).Sum();
        Assert.Equal(13, outbox.Count);
        Assert.Equal(expectedBytes, outbox.Bytes);
        await outbox.DisposeAsync();

        var reopened = _folder.Open(routes, configure: Rarely);
        Assert.Equal(13, reopened.Count);
        Assert.Equal(expectedBytes, reopened.Bytes);
        Assert.Equal(13, reopened.ReadAfter(0, 100, int.MaxValue).Count);
    }

    [Fact]
    public async Task Totals_are_right_after_a_restart_when_drops_made_room_for_as_many_as_they_took()
    {
        // Full, DropOldest, messages of one size: a drop and its append leave count and bytes as they
        // were, but the store changed, and the totals must say so.
        LiteDbOutboxOptions Configure(LiteDbOutboxOptions o) => o with { MaxMessages = 5, WhenFull = WhenFull.DropOldest, TotalsEvery = TimeSpan.FromHours(1) };
        var outbox = _folder.Open(TwoRoutes, configure: Configure);
        for (var i = 0; i < 8; i++) await outbox.AppendAsync(OutboxFolder.Message($"a/{i}", "x")); // a commit each; the last three drop one each
        Assert.Equal(5, outbox.Count);
        await outbox.DisposeAsync();

        var reopened = _folder.Open(TwoRoutes, configure: Configure);
        Assert.Equal(5, reopened.Count);
        Assert.Equal(5, reopened.Bytes);
        Assert.Equal(["a/3", "a/4", "a/5", "a/6", "a/7"], reopened.ReadAfter(0, 100, int.MaxValue).Select(m => m.Message.Topic));
        await reopened.AppendAsync(OutboxFolder.Message("a/8", "x"));
        Assert.Equal(["a/4", "a/5", "a/6", "a/7", "a/8"], reopened.ReadAfter(0, 100, int.MaxValue).Select(m => m.Message.Topic));
    }
}
