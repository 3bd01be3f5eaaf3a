using System.Text;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Status;

namespace Gateway.UnitTests.Status;

public sealed class OutboxBacklogFiguresTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 22, 0, 0, TimeSpan.Zero);

    private static readonly RouteTable Routes = new(
        [
            new Route("a/#", "cloud", new RouteTarget("amq.topic")),
            new Route("b/#", "cloud", new RouteTarget("amq.topic")),
            new Route("b/#", "archive", new RouteTarget("amq.topic")),
        ],
        ["cloud", "archive"]);

    [Fact]
    public void A_backlog_within_one_look_is_counted_exactly_per_upstream_and_route_with_the_oldest_age()
    {
        var outbox = new ListOutbox();
        outbox.Add("a/x", 10, Now.AddSeconds(-30), count: 3); // sequences 1-3
        outbox.Add("b/y", 4, Now.AddSeconds(-20), count: 2); // 4-5
        var figures = new OutboxBacklogFigures(outbox, Routes, () => 0);

        var (cloud, cloudRoutes) = figures.Read("cloud", cursor: 1, Now);
        Assert.Equal(new UpstreamBacklog(4, 2 * 10 + 2 * 4, true, 30, null), cloud);
        Assert.Equal([("a/#", 2L, 20L), ("b/#", 2L, 8L)], cloudRoutes.Select(r => (r.Filter, r.Messages, r.Bytes)));

        var (archive, archiveRoutes) = figures.Read("archive", cursor: 0, Now);
        Assert.Equal(new UpstreamBacklog(2, 8, true, 20, null), archive); // a/x is not its to send
        Assert.Equal(("b/#", "archive", 2L), (archiveRoutes[0].Filter, archiveRoutes[0].Upstream, archiveRoutes[0].Messages));
    }

    [Fact]
    public void No_backlog_is_exact_zero_with_no_age_and_nothing_left_to_drain()
    {
        var outbox = new ListOutbox();
        outbox.Add("a/x", 10, Now, count: 3);
        var figures = new OutboxBacklogFigures(outbox, Routes, () => 0);

        Assert.Equal(new UpstreamBacklog(0, 0, true, null, 0), figures.Read("cloud", cursor: 3, Now).Upstream);
    }

    [Fact]
    public void A_backlog_larger_than_one_look_is_estimated_from_the_share_of_the_oldest()
    {
        var outbox = new ListOutbox();
        var total = OutboxBacklogFigures.LookMessages * 3;
        for (var i = 0; i < total / 2; i++)
        {
            outbox.Add("a/x", 10, Now, count: 1);
            outbox.Add("c/unrouted", 10, Now, count: 1);
        }
        var figures = new OutboxBacklogFigures(outbox, Routes, () => 0);

        var (cloud, routes) = figures.Read("cloud", cursor: 0, Now);

        Assert.False(cloud.Exact);
        Assert.Equal(total / 2, cloud.Messages); // half of what is ahead of the cursor is cloud's
        Assert.Equal(total / 2 * 10, cloud.Bytes);
        Assert.Equal(total / 2, routes.Single(r => r.Filter == "a/#").Messages);
        Assert.All(routes, r => Assert.False(r.Exact));
    }

    [Fact]
    public void The_drain_eta_comes_from_how_fast_the_backlog_fell()
    {
        var outbox = new ListOutbox();
        outbox.Add("a/x", 1, Now, count: 100);
        long clock = 0;
        var figures = new OutboxBacklogFigures(outbox, Routes, () => clock);

        Assert.Null(figures.Read("cloud", cursor: 0, Now).Upstream.DrainEtaSeconds);
        clock = 1000;
        Assert.Equal(4.0, figures.Read("cloud", cursor: 20, Now).Upstream.DrainEtaSeconds); // 20 a second, 80 left
    }

    [Fact]
    public void While_the_cursor_stands_still_only_new_messages_are_read_and_a_look_cut_short_reads_nothing_more()
    {
        var outbox = new ListOutbox();
        outbox.Add("a/x", 10, Now, count: 5);
        var figures = new OutboxBacklogFigures(outbox, Routes, () => 0);
        Assert.Equal(5, figures.Read("cloud", cursor: 0, Now).Upstream.Messages);

        outbox.Add("a/x", 10, Now, count: OutboxBacklogFigures.LookMessages + 5); // 6 .. 1010
        var grown = figures.Read("cloud", cursor: 0, Now).Upstream;
        Assert.Equal([0L, 5L], outbox.Reads); // on from where the first look ended
        Assert.False(grown.Exact); // the second read stopped at 1005 of 1010
        Assert.Equal(OutboxBacklogFigures.LookMessages + 10, grown.Messages); // 1005 counted, scaled to the 1010 ahead

        outbox.Add("a/x", 10, Now, count: 990);
        Assert.Equal(2000, figures.Read("cloud", cursor: 0, Now).Upstream.Messages);
        Assert.Equal(2, outbox.Reads.Count); // scaled, not read
    }

    [Fact]
    public void A_moved_cursor_or_an_old_look_is_looked_at_again_from_the_cursor()
    {
        var outbox = new ListOutbox();
        outbox.Add("a/x", 10, Now, count: 10);
        long clock = 0;
        var figures = new OutboxBacklogFigures(outbox, Routes, () => clock);
        figures.Read("cloud", cursor: 0, Now);
        figures.Read("cloud", cursor: 4, Now);
        clock = OutboxBacklogFigures.RelookAfterMs;
        Assert.Equal(6, figures.Read("cloud", cursor: 4, Now).Upstream.Messages);

        Assert.Equal([0L, 4L, 4L], outbox.Reads);
    }

    /// <summary>An outbox in a list: what <see cref="OutboxBacklogFigures"/> reads of it.</summary>
    private sealed class ListOutbox : IOutbox
    {
        private readonly List<StoredMessage> _messages = [];

        public long LastCommittedSequence => _messages.Count == 0 ? 0 : _messages[^1].Sequence;
        public long Count => _messages.Count;

        public void Add(string topic, int payloadBytes, DateTimeOffset receivedAt, int count)
        {
            for (var i = 0; i < count; i++)
            {
                _messages.Add(new StoredMessage(LastCommittedSequence + 1, new IncomingMessage
                {
                    Topic = topic,
                    Payload = Encoding.ASCII.GetBytes(new string('x', payloadBytes)),
                    ClientId = "dev",
                    ReceivedAt = receivedAt,
                }));
            }
        }

        /// <summary>The sequence each read started after.</summary>
        public List<long> Reads { get; } = [];

        public IReadOnlyList<StoredMessage> ReadAfter(long afterSequence, int maxCount, int maxBytes)
        {
            Reads.Add(afterSequence);
            return _messages.Where(m => m.Sequence > afterSequence).Take(maxCount).ToList();
        }

        public long GetCursor(string upstream) => 0;
        public ValueTask<long> AppendAsync(IncomingMessage message, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public ValueTask<Task<long>> EnqueueAsync(IncomingMessage message, bool awaited = true, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public void CommitLingeringNow() => throw new NotSupportedException();
        public Task WaitForMessagesAfterAsync(long sequence, CancellationToken cancellationToken) => throw new NotSupportedException();
        public ValueTask AdvanceCursorAsync(string upstream, long throughSequence, IReadOnlyList<StoredMessage> passed, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
