using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class LiteDbOutboxTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private static RouteTable TwoUpstreams() => new(
        [new Route("both/#", "a", new RouteTarget()), new Route("both/#", "b", new RouteTarget()), new Route("only-a/#", "a", new RouteTarget())],
        ["a", "b"]);

    [Fact]
    public async Task Append_completes_only_after_the_log_is_fsynced()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync);
        // Creating the files and the first commit make LiteDB flush on its own; only a later append's sync counts here.
        var syncedBefore = sync.SyncsCompleted;
        await outbox.AppendAsync(OutboxFolder.Message("t/0"));
        await Poll.UntilAsync(() => sync.SyncsCompleted > syncedBefore); // the warm-up's own fsync is over, whatever order the outbox used
        sync.Entered.Reset();
        sync.Close();
        try
        {
            var append = outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet); // (waiting without blocking a pool thread, which the ack needs)
            Assert.Equal(outbox.LogFilePath, sync.EnteredFile); // the log, where the commit is: not the data file
            // The commit is written and the writer is inside fsync: the ack must still be waiting. (The
            // window lets a wrongly ordered completion, which runs on the thread pool, show itself.)
            await Assert.ThrowsAsync<TimeoutException>(() => append.WaitAsync(TimeSpan.FromMilliseconds(300)));

            sync.Open();
            Assert.Equal(2, await append.WaitAsync(Patience.Reaction));
        }
        finally
        {
            sync.Open(); // never leave the writer blocked, or closing the outbox would wait for ever
        }
    }

    [Fact]
    public async Task A_failing_fsync_fails_the_ack_and_not_the_store()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync);
        sync.FailNext = new IOException("No space left on device");

        var refused = await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask());
        Assert.Equal(OutboxRejection.StoreFailed, refused.Reason);
        Assert.Contains("No space left", refused.Message);

        Assert.Equal(2, await outbox.AppendAsync(OutboxFolder.Message("t/2")));
    }

    [Fact]
    public async Task Sequence_keeps_rising_across_restarts_even_when_the_store_was_emptied()
    {
        var routes = new RouteTable([new Route("#", "a", new RouteTarget())], ["a"]);
        var first = _folder.Open(routes);
        for (var i = 0; i < 3; i++) await first.AppendAsync(OutboxFolder.Message($"t/{i}"));
        var all = first.ReadAfter(0, 10, 1 << 20);
        await first.AdvanceCursorAsync("a", all[^1].Sequence, all);
        await Poll.UntilAsync(() => first.Count == 0);
        await first.DisposeAsync();

        var second = _folder.Open(routes);
        Assert.Equal(0, second.Count);
        Assert.Equal(3, second.GetCursor("a"));
        Assert.Equal(4, await second.AppendAsync(OutboxFolder.Message("t/after")));
    }

    [Fact]
    public async Task Messages_read_back_oldest_first_with_every_field()
    {
        var outbox = _folder.Open();
        var full = OutboxFolder.Message("sensors/1/temp", "21.5") with
        {
            Qos = QualityOfService.ExactlyOnce,
            Retain = true,
            ContentType = "text/plain",
            CorrelationData = new byte[] { 1, 2, 3 },
            ResponseTopic = "replies/1",
            UserProperties = [new("unit", "C"), new("unit", "K")],
            ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds()),
            ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123),
        };
        await outbox.AppendAsync(full);
        for (var i = 0; i < 5; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}"));

        var read = outbox.ReadAfter(0, 100, 1 << 20);
        Assert.Equal([1L, 2, 3, 4, 5, 6], read.Select(r => r.Sequence));
        var back = read[0].Message;
        Assert.Equal(full.Topic, back.Topic);
        Assert.Equal(full.Payload.ToArray(), back.Payload.ToArray());
        Assert.Equal(full.Qos, back.Qos);
        Assert.True(back.Retain);
        Assert.Equal(full.ContentType, back.ContentType);
        Assert.Equal(full.CorrelationData!.Value.ToArray(), back.CorrelationData!.Value.ToArray());
        Assert.Equal(full.ResponseTopic, back.ResponseTopic);
        Assert.Equal(full.UserProperties, back.UserProperties);
        Assert.Equal(full.ExpiresAt, back.ExpiresAt);
        Assert.Equal(full.ReceivedAt, back.ReceivedAt);
        Assert.Equal(full.ClientId, back.ClientId);

        Assert.Equal([3L, 4], outbox.ReadAfter(2, 2, 1 << 20).Select(r => r.Sequence));
        Assert.Single(outbox.ReadAfter(2, 100, 1)); // over the byte limit still returns one, so a large message is never stuck
    }

    [Fact]
    public async Task A_message_routed_to_two_upstreams_leaves_only_when_both_have_confirmed_it()
    {
        var outbox = _folder.Open(TwoUpstreams());
        await outbox.AppendAsync(OutboxFolder.Message("both/x"));
        await outbox.AppendAsync(OutboxFolder.Message("only-a/y"));
        var batch = outbox.ReadAfter(0, 10, 1 << 20);

        await outbox.AdvanceCursorAsync("a", 2, batch);
        await Poll.UntilAsync(() => outbox.GetCursor("a") == 2);
        Assert.Equal([1L], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Sequence)); // only-a/y is gone, both/x waits for b

        await outbox.AdvanceCursorAsync("b", 2, batch);
        await Poll.UntilAsync(() => outbox.Count == 0);
        Assert.Empty(outbox.ReadAfter(0, 10, 1 << 20));
    }

    [Fact]
    public async Task Messages_committed_together_leave_one_by_one_as_their_upstreams_confirm_them_and_stay_gone_after_a_restart()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(TwoUpstreams(), sync: sync);
        string[] topics = ["only-a/2", "both/3", "only-a/4", "both/5", "only-a/6", "both/7"];
        var appends = await CommittedTogether(outbox, sync, ["only-a/0", "only-a/1"], topics);
        Assert.Equal(Enumerable.Range(3, 6).Select(i => (long)i), appends);

        var all = outbox.ReadAfter(0, 100, 1 << 20);
        await outbox.AdvanceCursorAsync("a", all[^1].Sequence, all);
        await Poll.UntilAsync(() => outbox.Count == 3);
        var waiting = outbox.ReadAfter(0, 100, 1 << 20);
        Assert.Equal(["both/3", "both/5", "both/7"], waiting.Select(m => m.Message.Topic));
        Assert.Equal([4L, 6L, 8L], waiting.Select(m => m.Sequence));

        await outbox.AdvanceCursorAsync("b", 6, waiting.Take(2).ToArray());
        await Poll.UntilAsync(() => outbox.Count == 1);
        Assert.Equal([8L], outbox.ReadAfter(0, 100, 1 << 20).Select(m => m.Sequence));
        Assert.Equal([8L], outbox.ReadAfter(5, 100, 1 << 20).Select(m => m.Sequence));
        await outbox.DisposeAsync();

        var reopened = _folder.Open(TwoUpstreams());
        Assert.Equal(1, reopened.Count);
        Assert.Equal(1, reopened.Bytes);
        Assert.Equal(["both/7"], reopened.ReadAfter(0, 100, 1 << 20).Select(m => m.Message.Topic));
    }

    /// <summary>
    /// Appends <paramref name="first"/> one by one, then holds the writer inside the fsync of the last
    /// of them so that <paramref name="together"/> queue up and are committed as one group.
    /// </summary>
    internal static async Task<long[]> CommittedTogether(LiteDbOutbox outbox, GatedDiskSync sync, string[] first, string[] together)
    {
        foreach (var topic in first[..^1]) await outbox.AppendAsync(OutboxFolder.Message(topic));
        var synced = sync.SyncsCompleted;
        await Poll.UntilAsync(() => sync.SyncsCompleted >= synced);
        sync.Entered.Reset();
        sync.Close();
        Task<long>[] appends;
        try
        {
            var held = outbox.AppendAsync(OutboxFolder.Message(first[^1])).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet);
            appends = together.Select(t => outbox.AppendAsync(OutboxFolder.Message(t)).AsTask()).ToArray();
            // The held commit is written (the writer is in its fsync) and the rest are queued behind it.
            // (Not by reading the store: what is not synced yet is not read.)
            await Poll.UntilAsync(() => sync.EnteredFile == outbox.LogFilePath && outbox.QueuedWrites == together.Length);
        }
        finally
        {
            sync.Open();
        }
        return await Task.WhenAll(appends).WaitAsync(Patience.Reaction);
    }

    [Fact]
    public async Task Large_messages_queued_together_never_make_a_chunk_past_LiteDBs_document_limit()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync, configure: o => o with { MaxMessageBytes = 6 << 20, MaxGroupBytes = 15 << 20 });
        await outbox.AppendAsync(OutboxFolder.Message("t/0"));
        sync.Entered.Reset();
        sync.Close();
        Task<long>[] appends;
        try
        {
            var held = outbox.AppendAsync(OutboxFolder.Message("t/1")).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet);
            // Three of 6 MiB queue while the writer is held: one group of them would be an 18 MiB document.
            appends = Enumerable.Range(0, 3).Select(i => outbox.AppendAsync(OutboxFolder.Message($"t/big{i}") with { Payload = new byte[6 << 20] }).AsTask()).ToArray();
        }
        finally
        {
            sync.Open();
        }

        var sequences = await Task.WhenAll(appends).WaitAsync(Patience.Reaction);
        Assert.Equal([3L, 4L, 5L], sequences);
        Assert.Equal(0, _folder.Metrics.Get("outbox_commit_failures_total"));
        Assert.Equal(3 * (6 << 20) + 2, outbox.Bytes);
    }

    [Fact]
    public async Task A_message_waiting_for_an_upstream_that_was_removed_is_swept_at_the_next_start()
    {
        var outbox = _folder.Open(TwoUpstreams());
        await outbox.AppendAsync(OutboxFolder.Message("both/x"));
        await outbox.AdvanceCursorAsync("a", 1, outbox.ReadAfter(0, 10, 1 << 20));
        await Poll.UntilAsync(() => outbox.GetCursor("a") == 1);
        Assert.Equal(1, outbox.Count);
        await outbox.DisposeAsync();

        var onlyA = _folder.Open(new RouteTable([new Route("#", "a", new RouteTarget())], ["a"]));
        Assert.Equal(0, onlyA.Count);
    }

    [Fact]
    public async Task With_no_upstream_configured_everything_is_kept_across_restarts()
    {
        var outbox = _folder.Open();
        for (var i = 0; i < 10; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}"));
        await outbox.DisposeAsync();

        var again = _folder.Open();
        Assert.Equal(10, again.Count);
        Assert.Equal(10, again.ReadAfter(0, 100, 1 << 20).Count);
    }

    [Fact]
    public async Task Concurrent_appends_share_group_commits()
    {
        var outbox = _folder.Open();
        var appends = Enumerable.Range(0, 2000).Select(i => outbox.AppendAsync(OutboxFolder.Message($"t/{i}")).AsTask()).ToArray();
        var sequences = await Task.WhenAll(appends);

        Assert.Equal(Enumerable.Range(1, 2000).Select(i => (long)i), sequences.Order());
        var commits = _folder.Metrics.Get("outbox_group_commits_total");
        Assert.True(commits < 2000, $"{commits} commits for 2000 messages: no grouping happened");
    }

    [Fact]
    public async Task Waiting_for_new_messages_returns_when_one_is_committed()
    {
        var outbox = _folder.Open();
        var waiting = outbox.WaitForMessagesAfterAsync(0, CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        await waiting.WaitAsync(Patience.Reaction);
    }

    [Fact]
    public async Task A_payload_over_the_limit_is_refused_before_it_is_queued()
    {
        var outbox = _folder.Open();
        var big = OutboxFolder.Message("t/big") with { Payload = new byte[5000] };
        var refused = await Assert.ThrowsAsync<OutboxRejectedException>(() => outbox.AppendAsync(big).AsTask());
        Assert.Equal(OutboxRejection.TooLarge, refused.Reason);
        Assert.Equal(0, outbox.Count);
    }

    [Fact]
    public async Task A_second_outbox_on_the_same_folder_is_refused()
    {
        _folder.Open();
        var ex = Assert.ThrowsAny<IOException>(() => _folder.Open());
        Assert.Contains("outbox", ex.Message);
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("scribbled")]
    public async Task A_store_that_cannot_be_opened_is_moved_aside_and_a_new_one_takes_messages(string damage)
    {
        var outbox = _folder.Open();
        for (var i = 0; i < 2000; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}", new string('x', 200)));
        var lastBefore = outbox.LastCommittedSequence;
        await outbox.DisposeAsync();

        var dataFile = Path.Combine(_folder.Path, "outbox.db");
        var bytes = File.ReadAllBytes(dataFile);
        switch (damage)
        {
            case "garbage":
                File.WriteAllBytes(dataFile, Enumerable.Range(0, 65536).Select(i => (byte)(i * 7919 % 251)).ToArray());
                break;
            case "truncated":
                File.WriteAllBytes(dataFile, bytes[..(bytes.Length / 3)]);
                break;
            default:
                // Overwrite the header page and the first data pages with noise.
                var noise = new Random(7);
                for (var i = 0; i < Math.Min(bytes.Length, 40_000); i++) bytes[i] = (byte)noise.Next(256);
                File.WriteAllBytes(dataFile, bytes);
                break;
        }

        var reopened = _folder.Open();

        var aside = Directory.GetFiles(_folder.Path, "outbox.db.corrupt-*");
        Assert.Single(aside);
        Assert.Equal(1, _folder.Metrics.Get("outbox_corrupt_stores_total"));
        Assert.Equal(0, reopened.Count);
        var next = await reopened.AppendAsync(OutboxFolder.Message("t/after"));
        Assert.True(next > lastBefore, "a new store must not reuse sequence numbers consumers have seen");
    }

    [Fact]
    public async Task Expired_messages_are_removed_and_counted_while_the_rest_stay()
    {
        var outbox = _folder.Open(sweepEvery: TimeSpan.FromMilliseconds(100));
        await outbox.AppendAsync(OutboxFolder.Message("t/short") with { ExpiresAt = DateTimeOffset.UtcNow.AddMilliseconds(300) });
        await outbox.AppendAsync(OutboxFolder.Message("t/long") with { ExpiresAt = DateTimeOffset.UtcNow.AddHours(1) });
        await outbox.AppendAsync(OutboxFolder.Message("t/never"));

        await Poll.UntilAsync(() => outbox.Count == 2);
        Assert.Equal(["t/long", "t/never"], outbox.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, _folder.Metrics.Get("messages_expired_total"));
    }

    [Fact]
    public async Task Messages_that_expired_while_the_gateway_was_off_are_removed_at_start()
    {
        var outbox = _folder.Open();
        var expires = DateTimeOffset.UtcNow.AddMilliseconds(200);
        for (var i = 0; i < 3; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}") with { ExpiresAt = expires });
        await outbox.AppendAsync(OutboxFolder.Message("t/kept"));
        await outbox.DisposeAsync();
        await Poll.UntilAsync(() => DateTimeOffset.UtcNow > expires);

        var reopened = _folder.Open();
        Assert.Equal(1, reopened.Count);
        Assert.Equal(3, _folder.Metrics.Get("messages_expired_total"));
    }

    [Fact]
    public async Task A_store_without_its_totals_adds_them_up_from_the_chunks_and_what_is_gone()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(TwoUpstreams(), sync: sync);
        await CommittedTogether(outbox, sync, ["both/1"], ["only-a/2", "both/3", "both/4"]); // the last three share a chunk
        var all = outbox.ReadAfter(0, 10, 1 << 20);
        await outbox.AdvanceCursorAsync("a", all[^1].Sequence, all); // only-a/2 goes; the rest wait for b
        await Poll.UntilAsync(() => outbox.Count == 3);
        await outbox.DisposeAsync();
        _folder.WithStore(db =>
        {
            db.GetCollection("meta").Delete("count");
            db.GetCollection("meta").Delete("bytes");
        });

        var reopened = _folder.Open(TwoUpstreams());
        Assert.Equal(3, reopened.Count);
        Assert.Equal(3, reopened.Bytes);
        Assert.Equal(["both/1", "both/3", "both/4"], reopened.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(5, await reopened.AppendAsync(OutboxFolder.Message("both/5")));
    }

    [Fact]
    public async Task A_chunk_that_cannot_be_decoded_met_by_a_drop_is_removed_alone_and_new_messages_are_taken_again()
    {
        var routes = new RouteTable([new Route("t/#", "up", new RouteTarget())], ["up"]);
        var outbox = _folder.Open(routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        await outbox.DisposeAsync();
        _folder.WithStore(db =>
        {
            DamageChunk(db, 1);
        });

        // Full, DropOldest: the next message has to read the damaged chunk to drop from it.
        var reopened = _folder.Open(routes, configure: o => o with { MaxMessages = 1, WhenFull = WhenFull.DropOldest });
        await Assert.ThrowsAsync<OutboxRejectedException>(() => reopened.AppendAsync(OutboxFolder.Message("t/2")).AsTask());
        await Poll.UntilAsync(async () =>
        {
            try { await reopened.AppendAsync(OutboxFolder.Message("t/3")); return true; }
            catch (OutboxRejectedException) { return false; }
        });
        Assert.Equal(1, _folder.Metrics.Get("outbox_corrupt_chunks_total"));
        Assert.Equal(1, _folder.Metrics.Get("messages_lost_corrupt_total"));
        Assert.Equal(0, _folder.Metrics.Get("outbox_corrupt_stores_total"));
        Assert.Empty(Directory.GetFiles(_folder.Path, "outbox.db.corrupt-*"));
        Assert.Equal(["t/3"], reopened.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, reopened.Count);
    }

    [Fact]
    public async Task A_damaged_chunk_met_by_a_reader_is_skipped_counted_and_removed_and_the_rest_still_flows()
    {
        var routes = new RouteTable([new Route("t/#", "up", new RouteTarget())], ["up"]);
        var outbox = _folder.Open(routes);
        foreach (var topic in new[] { "t/1", "t/2", "t/3" }) await outbox.AppendAsync(OutboxFolder.Message(topic, "abcd")); // one chunk each
        await outbox.DisposeAsync();
        _folder.WithStore(db =>
        {
            DamageChunk(db, 2);
        });

        var reopened = _folder.Open(routes);
        Assert.Equal(3, reopened.Count);
        Assert.Equal(["t/1", "t/3"], reopened.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, _folder.Metrics.Get("outbox_corrupt_chunks_total"));
        await Poll.UntilAsync(() => reopened.Count == 2);
        Assert.Equal(8, reopened.Bytes);
        Assert.Equal(1, _folder.Metrics.Get("messages_lost_corrupt_total"));
        await reopened.DisposeAsync();

        var again = _folder.Open(routes);
        Assert.Equal(2, again.Count);
        Assert.Equal(["t/1", "t/3"], again.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, _folder.Metrics.Get("outbox_corrupt_chunks_total"));
        Assert.Equal(0, _folder.Metrics.Get("outbox_corrupt_stores_total"));
    }

    [Fact]
    public async Task At_a_trickle_the_chunks_of_a_backlog_are_joined_and_every_message_stays_in_order()
    {
        const int messages = 1200, behind = 1000; // 200 of them more than CompactBehind behind the newest
        var outbox = _folder.Open(configure: o => o with { CompactBehind = behind });
        for (var i = 1; i <= messages; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}", "abcd")); // a commit each

        const int joinable = (messages - behind) / SmallChunkCompactor.MinRun * SmallChunkCompactor.MinRun;
        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= joinable);
        var read = outbox.ReadAfter(0, 2 * messages, int.MaxValue);
        Assert.Equal(Enumerable.Range(1, messages).Select(i => $"t/{i}"), read.Select(m => m.Message.Topic));
        Assert.Equal(Enumerable.Range(1, messages).Select(i => (long)i), read.Select(m => m.Sequence));
        Assert.Equal(messages, outbox.Count);
        Assert.Equal(4 * messages, outbox.Bytes);
        await outbox.DisposeAsync();

        _folder.WithStore(db =>
        {
            var chunks = db.GetCollection("chunks").Count();
            Assert.True(chunks <= messages - joinable + joinable / SmallChunkCompactor.MinRun, $"{chunks} chunks for {messages} messages");
        });
        var reopened = _folder.Open();
        Assert.Equal(messages, reopened.Count);
        Assert.Equal(messages, reopened.ReadAfter(0, 2 * messages, int.MaxValue).Count);
    }

    [Fact]
    public async Task A_few_small_chunks_between_big_ones_are_left_alone_and_a_longer_run_is_joined()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(sync: sync, configure: o => o with { CompactBehind = 0 });
        static string[] Topics(string prefix, int n) => Enumerable.Range(1, n).Select(i => $"{prefix}/{i}").ToArray();
        var few = Topics("few", SmallChunkCompactor.MinBlockedRun - 1);
        var run = Topics("run", SmallChunkCompactor.MinBlockedRun + 2);
        // Each name in `few` and `run` is a commit of its own (a small chunk); each `big` group is one chunk.
        await CommittedTogether(outbox, sync, few, Topics("big1", 20));
        await CommittedTogether(outbox, sync, run, Topics("big2", 20));
        await outbox.AppendAsync(OutboxFolder.Message("tail")); // a small chunk after the gap: the run before it is complete

        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= run.Length);
        var expected = few.Concat(Topics("big1", 20)).Concat(run).Concat(Topics("big2", 20)).Append("tail").ToArray();
        Assert.Equal(expected, outbox.ReadAfter(0, 1000, int.MaxValue).Select(m => m.Message.Topic));
        await outbox.DisposeAsync();

        Assert.Equal(run.Length, _folder.Metrics.Get("outbox_chunks_joined_total"));
        _folder.WithStore(db => Assert.Equal(few.Length + 1 + 1 + 1 + 1, db.GetCollection("chunks").Count()));
        Assert.Equal(expected, _folder.Open().ReadAfter(0, 1000, int.MaxValue).Select(m => m.Message.Topic));
    }

    [Fact]
    public async Task Small_chunks_written_before_a_restart_are_found_and_joined_after_it_and_every_message_stays_in_order()
    {
        // Before the restart nothing is far enough behind the newest to be joined.
        var outbox = _folder.Open(configure: o => o with { CompactBehind = 1_000_000, UnacknowledgedLinger = TimeSpan.FromSeconds(5) });
        var topics = new List<string>();
        async Task OneByOne(string prefix, int n)
        {
            for (var i = 1; i <= n; i++)
            {
                await outbox.AppendAsync(OutboxFolder.Message($"{prefix}/{i}", "abcd")); // a commit each: a small chunk
                topics.Add($"{prefix}/{i}");
            }
        }
        await OneByOne("run", 150);
        // Twenty nobody waits for, queued at once, share one commit: a big chunk that ends the run.
        var big = new List<Task<long>>();
        for (var i = 1; i <= 20; i++)
        {
            big.Add(await outbox.EnqueueAsync(OutboxFolder.Message($"big/{i}", "abcd"), awaited: false));
            topics.Add($"big/{i}");
        }
        outbox.CommitLingeringNow();
        await Task.WhenAll(big);
        await OneByOne("few", SmallChunkCompactor.MinBlockedRun - 1); // too few to be worth a join
        await outbox.DisposeAsync();
        Assert.Equal(0, _folder.Metrics.Get("outbox_chunks_joined_total"));
        _folder.WithStore(db => Assert.Equal(150 + 1 + SmallChunkCompactor.MinBlockedRun - 1, db.GetCollection("chunks").Count()));

        // Reopened, with nothing new written: the stored chunks are read for small ones and the run is joined.
        var reopened = _folder.Open(configure: o => o with { CompactBehind = 0 });
        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= 150);
        Assert.Equal(topics, reopened.ReadAfter(0, 1000, int.MaxValue).Select(m => m.Message.Topic));
        Assert.Equal(topics.Count, reopened.Count);
        Assert.Equal(4 * topics.Count, reopened.Bytes);
        await reopened.DisposeAsync();

        Assert.Equal(150, _folder.Metrics.Get("outbox_chunks_joined_total"));
        _folder.WithStore(db => Assert.Equal(1 + 1 + SmallChunkCompactor.MinBlockedRun - 1, db.GetCollection("chunks").Count()));
        var again = _folder.Open();
        Assert.Equal(topics, again.ReadAfter(0, 1000, int.MaxValue).Select(m => m.Message.Topic));
        Assert.Equal(4 * topics.Count, again.Bytes);
    }

    [Fact]
    public async Task The_rescan_goes_on_past_its_step_limit_to_small_chunks_far_behind_big_ones()
    {
        var outbox = _folder.Open(configure: o => o with { CompactBehind = 1_000_000, UnacknowledgedLinger = TimeSpan.FromSeconds(5) });
        var topics = new List<string>();
        for (var chunk = 0; chunk < 100; chunk++) // more big chunks than one rescan step reads
        {
            var group = new List<Task<long>>();
            for (var i = 0; i < 20; i++)
            {
                group.Add(await outbox.EnqueueAsync(OutboxFolder.Message($"big/{chunk}/{i}", "abcd"), awaited: false));
                topics.Add($"big/{chunk}/{i}");
            }
            outbox.CommitLingeringNow();
            await Task.WhenAll(group);
        }
        for (var i = 1; i <= 10; i++)
        {
            await outbox.AppendAsync(OutboxFolder.Message($"small/{i}", "abcd"));
            topics.Add($"small/{i}");
        }
        await outbox.DisposeAsync();

        var reopened = _folder.Open(configure: o => o with { CompactBehind = 0 });
        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= 10);
        Assert.Equal(topics, reopened.ReadAfter(0, 5000, int.MaxValue).Select(m => m.Message.Topic));
        await reopened.DisposeAsync();
        _folder.WithStore(db => Assert.Equal(100 + 1, db.GetCollection("chunks").Count()));
    }

    [Fact]
    public async Task Small_chunks_from_before_a_restart_still_too_close_to_the_newest_are_joined_once_enough_has_come_after_them()
    {
        var outbox = _folder.Open(configure: o => o with { CompactBehind = 1_000_000 });
        for (var i = 1; i <= 150; i++) await outbox.AppendAsync(OutboxFolder.Message($"old/{i}", "abcd"));
        await outbox.DisposeAsync();

        // 120 behind: at first only the oldest 30 are far enough behind, too few to join, and the rescan
        // waits. 120 new messages in one commit put the whole run behind; a big commit does not wake
        // compaction, the small one after it does.
        var reopened = _folder.Open(configure: o => o with { CompactBehind = 120, UnacknowledgedLinger = TimeSpan.FromSeconds(5) });
        var group = new List<Task<long>>();
        for (var i = 1; i <= 120; i++) group.Add(await reopened.EnqueueAsync(OutboxFolder.Message($"new/{i}", "abcd"), awaited: false));
        reopened.CommitLingeringNow();
        await Task.WhenAll(group);
        await reopened.AppendAsync(OutboxFolder.Message("tail", "abcd"));

        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= 150);
        var expected = Enumerable.Range(1, 150).Select(i => $"old/{i}").Concat(Enumerable.Range(1, 120).Select(i => $"new/{i}")).Append("tail");
        Assert.Equal(expected, reopened.ReadAfter(0, 1000, int.MaxValue).Select(m => m.Message.Topic));
        await reopened.DisposeAsync();

        Assert.Equal(150, _folder.Metrics.Get("outbox_chunks_joined_total"));
        _folder.WithStore(db => Assert.Equal(3, db.GetCollection("chunks").Count())); // the joined run, the group, the tail
    }

    [Fact]
    public async Task A_rescan_waiting_for_newer_messages_ends_once_the_upstream_has_passed_its_chunks_with_nothing_new_arriving()
    {
        var routes = new RouteTable([new Route("t/#", "up", new RouteTarget())], ["up"]);
        var outbox = _folder.Open(routes, configure: o => o with { CompactBehind = 1_000_000 });
        for (var i = 1; i <= 150; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}", "abcd"));
        await outbox.DisposeAsync();

        // 120 behind: only the oldest 30 of the 150 small chunks are far enough behind the newest,
        // too few to join, so the rescan waits for newer messages and the writer goes idle.
        var reopened = _folder.Open(routes, configure: o => o with { CompactBehind = 120 });
        await Poll.UntilAsync(() => reopened.Rescanning && reopened.CompactionIdle);

        // None come: the upstream confirms all 150 (a drain after a restart). Nothing is left worth
        // joining, and the rescan ends without waiting for a commit of new messages.
        var all = reopened.ReadAfter(0, 1000, int.MaxValue);
        Assert.Equal(150, all.Count);
        await reopened.AdvanceCursorAsync("up", all[^1].Sequence, all);
        await Poll.UntilAsync(() => !reopened.Rescanning);
        await Poll.UntilAsync(() => reopened.Count == 0);
        Assert.Equal(0, _folder.Metrics.Get("outbox_chunks_joined_total"));
        await reopened.DisposeAsync();
    }

    [Fact]
    public async Task Small_chunks_joined_after_the_stored_totals_were_written_are_counted_once_after_a_restart()
    {
        static LiteDbOutboxOptions Configure(LiteDbOutboxOptions o) =>
            o with { CompactBehind = 0, UnacknowledgedLinger = TimeSpan.FromSeconds(5), TotalsEvery = TimeSpan.FromHours(1) };
        var outbox = _folder.Open(configure: Configure);
        for (var i = 1; i <= 20; i++) await outbox.AppendAsync(OutboxFolder.Message($"small/{i}", "abcd")); // a commit each
        // Twenty nobody waits for, queued at once, share one commit: a big chunk after the run of small ones.
        var big = new List<Task<long>>();
        for (var i = 1; i <= 20; i++) big.Add(await outbox.EnqueueAsync(OutboxFolder.Message($"big/{i}", "abcd"), awaited: false));
        outbox.CommitLingeringNow();
        await Task.WhenAll(big);
        await outbox.AppendAsync(OutboxFolder.Message("tail", "abcd")); // a small chunk after the gap: the run before it is complete

        await Poll.UntilAsync(() => _folder.Metrics.Get("outbox_chunks_joined_total") >= 20);
        Assert.Equal(41, outbox.Count);
        await outbox.DisposeAsync();

        var reopened = _folder.Open(configure: Configure);
        Assert.Equal(41, reopened.Count);
        Assert.Equal(164, reopened.Bytes);
        Assert.Equal(41, reopened.ReadAfter(0, 100, int.MaxValue).Count);
    }

    [Fact]
    public async Task A_byte_changed_inside_a_payload_is_caught_by_the_chunk_checksum_and_not_forwarded()
    {
        var routes = new RouteTable([new Route("t/#", "up", new RouteTarget())], ["up"]);
        var outbox = _folder.Open(routes);
        foreach (var topic in new[] { "t/1", "t/2", "t/3" }) await outbox.AppendAsync(OutboxFolder.Message(topic, "abcd"));
        await outbox.DisposeAsync();
        _folder.WithStore(db =>
        {
            var chunk = db.GetCollection("chunks").FindById(2L);
            var blob = chunk["m"].AsBinary;
            blob[^1] ^= 0x01; // the last payload byte: every length still adds up
            chunk["m"] = blob;
            db.GetCollection("chunks").Update(chunk);
        });

        var reopened = _folder.Open(routes);
        Assert.Equal(["t/1", "t/3"], reopened.ReadAfter(0, 10, 1 << 20).Select(m => m.Message.Topic));
        Assert.Equal(1, _folder.Metrics.Get("outbox_corrupt_chunks_total"));
        await Poll.UntilAsync(() => reopened.Count == 2);
    }

    /// <summary>Overwrites a chunk's messages with a record longer than the chunk (what damage on disk can look like).</summary>
    private static void DamageChunk(LiteDB.LiteDatabase db, long last)
    {
        var chunk = db.GetCollection("chunks").FindById(last);
        chunk["m"] = new byte[] { 1, 200, 3 };
        db.GetCollection("chunks").Update(chunk);
    }


}
