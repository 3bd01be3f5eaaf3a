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
