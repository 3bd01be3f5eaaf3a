using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Core.Routing;
using Gateway.Storage.LiteDb;
using Gateway.UnitTests.Outbox;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Forwarding;

/// <summary>The forwarder against the real outbox and a scripted upstream (the real brokers are in the integration tests).</summary>
public sealed class ForwarderTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();
    private readonly RouteTable _routes = new([new Route("#", "up", new RouteTarget("amq.topic"))], ["up"]);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    [Fact]
    public async Task Every_message_arrives_in_order_with_its_id_despite_failures_and_the_store_empties()
    {
        var upstream = new ScriptedUpstream { FailBatchNumbers = [2, 3, 7] };
        var outbox = _folder.Open(_routes);
        for (var i = 1; i <= 95; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}"));
        await DrainAsync(upstream, outbox, new ForwarderOptions { BatchMaxMessages = 10 });

        var delivered = upstream.Confirmed.Select(d => d.MessageId).ToList();
        Assert.Equal(Enumerable.Range(1, 95).Select(i => $"gw-{i}"), delivered);
        // A refused batch was sent again starting at the same message.
        var failedStarts = upstream.Attempts.Where(a => a.Failed).Select(a => a.FirstSequence).ToList();
        foreach (var start in failedStarts) Assert.Contains(upstream.Attempts, a => !a.Failed && a.FirstSequence == start);
        Assert.Equal(95, outbox.GetCursor("up"));
    }

    [Fact]
    public async Task Connection_failures_walk_the_endpoints_in_turn()
    {
        var upstream = new ScriptedUpstream { RefuseConnects = 3 };
        var outbox = _folder.Open(_routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        await DrainAsync(upstream, outbox);

        Assert.Equal([0, 1, 0, 1], upstream.ConnectAttempts);
    }

    [Fact]
    public async Task Asked_to_reconnect_now_a_link_that_is_down_skips_the_rest_of_its_pause()
    {
        var upstream = new ScriptedUpstream { RefuseConnects = 1 };
        var outbox = _folder.Open(_routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        var forwarder = new Forwarder(upstream, outbox, _routes, "gw",
            new ForwarderOptions { ReconnectMinDelay = TimeSpan.FromMinutes(10), ReconnectMaxDelay = TimeSpan.FromMinutes(10) },
            new GatewayMetrics(), NullLogger<Forwarder>.Instance);
        using var stop = new CancellationTokenSource();
        var running = forwarder.RunAsync(stop.Token, stop.Token);

        // Refused once, the forwarder pauses ten minutes; asked to reconnect, it connects and drains now.
        await Poll.UntilAsync(() =>
        {
            forwarder.ReconnectNow();
            return outbox.Count == 0;
        });
        Assert.Equal(2, upstream.ConnectAttempts.Count);
        stop.Cancel();
        await running.WaitAsync(Patience.Reaction);
    }

    [Fact]
    public async Task A_new_link_after_a_lost_one_is_counted_as_a_reconnect_and_refused_connects_are_not()
    {
        // Refused, connected (the first link), batch failed, connected again: one reconnect.
        var upstream = new ScriptedUpstream { RefuseConnects = 1, FailBatchNumbers = [1] };
        var outbox = _folder.Open(_routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        var metrics = await DrainAsync(upstream, outbox);

        Assert.Equal(3, upstream.ConnectAttempts.Count);
        Assert.Equal(2, metrics.Get("upstream_connects_total", "up"));
        Assert.Equal(1, metrics.Get("upstream_reconnects_total", "up"));
    }

    [Fact]
    public async Task A_link_that_never_confirms_is_restarted_after_the_confirm_timeout()
    {
        var upstream = new ScriptedUpstream { HangBatchNumbers = [1] };
        var outbox = _folder.Open(_routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        var metrics = await DrainAsync(upstream, outbox, new ForwarderOptions { ConfirmTimeout = TimeSpan.FromMilliseconds(200) });

        Assert.Equal(1, metrics.Get("upstream_stalls_total", "up"));
        Assert.Equal(2, upstream.ConnectAttempts.Count);
    }

    [Fact]
    public async Task A_link_the_broker_blocks_is_kept_past_the_confirm_timeout_and_resumes_when_unblocked()
    {
        var upstream = new ScriptedUpstream { BlockedBatchNumbers = [1] };
        var outbox = _folder.Open(_routes);
        for (var i = 1; i <= 3; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}"));
        var metrics = new GatewayMetrics();
        var forwarder = new Forwarder(upstream, outbox, _routes, "gw", new ForwarderOptions { ConfirmTimeout = TimeSpan.FromMilliseconds(100) }, metrics, NullLogger<Forwarder>.Instance);
        using var stop = new CancellationTokenSource();
        var running = forwarder.RunAsync(stop.Token, stop.Token);

        await Poll.UntilAsync(() => forwarder.BlockedBecause == "low on memory");
        await Poll.UntilAsync(() => forwarder.BlockedSeconds >= 0.5); // five confirm timeouts without a confirm
        Assert.Single(upstream.ConnectAttempts);
        Assert.Equal(0, metrics.Get("upstream_stalls_total", "up"));
        Assert.Equal(3, outbox.Count);

        upstream.Links[0].Flow.Unblock();
        await Poll.UntilAsync(() => outbox.Count == 0);
        stop.Cancel();
        await running.WaitAsync(Patience.Reaction);

        Assert.Null(forwarder.BlockedBecause);
        Assert.Single(upstream.ConnectAttempts);
        Assert.Equal(1, metrics.Get("upstream_blocks_total", "up"));
        Assert.Equal(3, upstream.Confirmed.Count);
    }

    [Fact]
    public async Task An_idle_forwarder_waits_instead_of_spinning_when_the_sequence_is_ahead_of_the_store()
    {
        var inner = _folder.Open(_routes, sweepEvery: TimeSpan.FromMilliseconds(50));
        // A message that expires at once: swept away, leaving the committed sequence ahead of anything stored.
        await inner.AppendAsync(OutboxFolder.Message("t/1") with { ExpiresAt = DateTimeOffset.UtcNow });
        await Poll.UntilAsync(() => inner.Count == 0);
        var outbox = new CountingOutbox(inner);
        var forwarder = new Forwarder(new ScriptedUpstream(), outbox, _routes, "gw", ForwarderOptions.Default, new GatewayMetrics(), NullLogger<Forwarder>.Instance);

        using var stop = new CancellationTokenSource();
        var running = forwarder.RunAsync(stop.Token, stop.Token);
        await Poll.UntilAsync(() => outbox.Reads >= 1 && outbox.ParkedWaits >= 1); // it read, found nothing, and waits for messages
        // A forwarder woken without new messages reads again at once: within this window it would be seen.
        Assert.True(await Poll.StaysFalseAsync(() => outbox.Reads > 3), $"{outbox.Reads} reads of an empty store");
        stop.Cancel();
        await running.WaitAsync(Patience.Reaction);

        Assert.InRange(outbox.Reads, 1, 3); // a spinning forwarder reads thousands of times in half a second
    }

    [Fact]
    public async Task A_broker_that_confirms_slowly_but_steadily_is_not_taken_for_a_stall()
    {
        // Each batch takes 20 x 100 ms = 2 s, twice the confirm timeout, but no confirm is more than 100 ms late.
        var upstream = new ScriptedUpstream { ConfirmEach = TimeSpan.FromMilliseconds(100) };
        var outbox = _folder.Open(_routes);
        for (var i = 1; i <= 40; i++) await outbox.AppendAsync(OutboxFolder.Message($"t/{i}"));
        var metrics = await DrainAsync(upstream, outbox, new ForwarderOptions { BatchMaxMessages = 20, ConfirmTimeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(0, metrics.Get("upstream_stalls_total", "up"));
        Assert.Equal([0], upstream.ConnectAttempts);
        Assert.Equal(40, upstream.Confirmed.Count); // each sent once
    }

    [Fact]
    public async Task An_idle_link_that_reports_itself_lost_is_dropped_at_once_and_the_next_endpoint_tried()
    {
        var upstream = new ScriptedUpstream();
        var outbox = _folder.Open(_routes);
        var forwarder = new Forwarder(upstream, outbox, _routes, "gw",
            new ForwarderOptions { ReconnectMinDelay = TimeSpan.FromMilliseconds(1), ReconnectMaxDelay = TimeSpan.FromMilliseconds(5) },
            new GatewayMetrics(), NullLogger<Forwarder>.Instance);
        using var stop = new CancellationTokenSource();
        var running = forwarder.RunAsync(stop.Token, stop.Token);
        await Poll.UntilAsync(() => forwarder.IsConnected);

        upstream.Links[0].Lose("missed heartbeats");
        await Poll.UntilAsync(() => upstream.ConnectAttempts.Count == 2);
        stop.Cancel();
        await running.WaitAsync(Patience.Reaction);

        Assert.Equal([0, 1], upstream.ConnectAttempts);
    }

    [Fact]
    public async Task A_stalled_link_whose_close_hangs_is_abandoned_and_the_next_endpoint_tried_within_the_close_grace()
    {
        var upstream = new ScriptedUpstream { HangBatchNumbers = [1], HangingCloses = 1 };
        var outbox = _folder.Open(_routes);
        await outbox.AppendAsync(OutboxFolder.Message("t/1"));
        var started = DateTime.UtcNow;
        var metrics = await DrainAsync(upstream, outbox, new ForwarderOptions { ConfirmTimeout = TimeSpan.FromMilliseconds(200) });

        Assert.Equal([0, 1], upstream.ConnectAttempts);
        Assert.Equal(1, metrics.Get("upstream_closes_abandoned_total", "up"));
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, Forwarder.FailedCloseGrace + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task An_outbox_failure_ends_the_forwarder_instead_of_cycling_the_link()
    {
        var inner = _folder.Open(_routes);
        await inner.AppendAsync(OutboxFolder.Message("t/1"));
        var outbox = new CountingOutbox(inner) { FailReads = true };
        var upstream = new ScriptedUpstream();
        var forwarder = new Forwarder(upstream, outbox, _routes, "gw", ForwarderOptions.Default, new GatewayMetrics(), NullLogger<Forwarder>.Instance);

        using var stop = new CancellationTokenSource(Patience.Reaction);
        var failure = await Assert.ThrowsAsync<OutboxFailedException>(() => forwarder.RunAsync(stop.Token, stop.Token));

        Assert.IsType<ObjectDisposedException>(failure.InnerException);
        Assert.Single(upstream.ConnectAttempts);
        Assert.False(forwarder.IsConnected);
    }

    /// <summary>Runs a forwarder over <paramref name="outbox"/> until the store is empty, then stops it.</summary>
    private async Task<GatewayMetrics> DrainAsync(ScriptedUpstream upstream, LiteDbOutbox outbox, ForwarderOptions? options = null)
    {
        var metrics = new GatewayMetrics();
        var forwarder = new Forwarder(upstream, outbox, _routes, "gw",
            (options ?? new ForwarderOptions()) with { ReconnectMinDelay = TimeSpan.FromMilliseconds(1), ReconnectMaxDelay = TimeSpan.FromMilliseconds(5) },
            metrics, NullLogger<Forwarder>.Instance);
        using var stop = new CancellationTokenSource();
        var running = forwarder.RunAsync(stop.Token, stop.Token);
        await Poll.UntilAsync(() => outbox.Count == 0);
        stop.Cancel();
        await running.WaitAsync(Patience.Reaction);
        return metrics;
    }
}
