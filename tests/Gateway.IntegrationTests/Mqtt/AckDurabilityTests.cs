using Gateway.Core.Diagnostics;
using Gateway.Storage.LiteDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// The gateway in this process, with the outbox's fsync behind a gate the test holds: a PUBACK that
/// could leave before the commit is on disk would arrive while the gate is shut, and fail the test.
/// </summary>
public sealed class AckDurabilityTests : IAsyncLifetime
{
    private InProcessGateway _gateway = null!;

    private GatedDiskSync Sync => _gateway.Sync;
    private int MqttPort => _gateway.MqttPort;
    private GatewayMetrics Metrics => _gateway.App.Services.GetRequiredService<GatewayMetrics>();

    public async Task InitializeAsync() => _gateway = await InProcessGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Puback_is_sent_only_after_the_commit_is_on_disk(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev", version);
        // The first commit into new files makes LiteDB flush on its own: get it done before watching.
        var syncedBefore = Sync.SyncsCompleted;
        Assert.True((await device.PublishAsync("sensors/a/temp", "warm-up", qos)).IsSuccess);
        await Poll.UntilAsync(() => Sync.SyncsCompleted > syncedBefore, TimeSpan.FromSeconds(10), "the warm-up's fsync to finish");
        Sync.Entered.Reset();
        Sync.Close();

        var publish = await PublishHeldAsync(device, "sensors/a/temp", "21.5", qos);
        // The commit is written and the fsync has begun but not returned: no ack may have left.
        await Assert.ThrowsAsync<TimeoutException>(() => publish.WaitAsync(TimeSpan.FromMilliseconds(300)));

        var synced = Sync.SyncsCompleted;
        Sync.Open();
        var result = await publish.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsSuccess);
        Assert.True(Sync.SyncsCompleted > synced);
    }

    [Fact]
    public async Task A_slow_fsync_shows_in_the_sync_and_ack_wait_histograms_at_metrics()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "slow-disk", MqttProtocolVersion.V500);
        await WarmUpAndCloseAsync(device);
        var (syncsFast, syncs) = Metrics.ReadHistogram("outbox_sync_seconds", 0.5);
        var (waitsFast, waits) = Metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.5);
        Assert.True(waits >= 1, "the warm-up's ack wait was not counted");

        // A disk that takes over half a second for one fsync, as a worn SD card can.
        var publish = await PublishHeldAsync(device, "sensors/a/temp", "21.5", MqttQualityOfServiceLevel.AtLeastOnce);
        await Assert.ThrowsAsync<TimeoutException>(() => publish.WaitAsync(TimeSpan.FromMilliseconds(700)));
        Sync.Open();
        Assert.True((await publish.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);

        // The slow fsync and the ack that waited for it, each counted past the 0.5 s bound.
        await Poll.UntilAsync(() => Metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.5).Count > waits, TimeSpan.FromSeconds(10), "the ack wait to be counted");
        var (syncsFastAfter, syncsAfter) = Metrics.ReadHistogram("outbox_sync_seconds", 0.5);
        var (waitsFastAfter, waitsAfter) = Metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.5);
        Assert.Equal(1, (syncsAfter - syncsFastAfter) - (syncs - syncsFast));
        Assert.Equal(1, (waitsAfter - waitsFastAfter) - (waits - waitsFast));
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{_gateway.HttpPort}/metrics");
        Assert.Contains($"gateway_outbox_sync_seconds_bucket{{le=\"+Inf\"}} {syncsAfter}", text);
    }

    [Fact]
    public async Task A_commit_that_fails_is_refused_to_an_MQTT5_client_and_the_next_publish_is_accepted()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev5", MqttProtocolVersion.V500);
        Sync.FailNext = new IOException("No space left on device");
        _gateway.ExpectErrors(GatewayErrors.CommitFailed + "No space left on device"); // the failure this test injects

        var refused = await device.PublishAsync("sensors/a/temp", "1");
        Assert.False(refused.IsSuccess);
        Assert.Contains("No space left on device", refused.ReasonString);

        Assert.True((await device.PublishAsync("sensors/a/temp", "2")).IsSuccess);
    }

    [Fact]
    public async Task A_commit_that_fails_closes_an_MQTT311_connection_without_a_puback()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev3", MqttProtocolVersion.V311);
        Sync.FailNext = new IOException("Input/output error");
        _gateway.ExpectErrors(GatewayErrors.CommitFailed + "Input/output error"); // the failure this test injects

        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync("sensors/a/temp", "1"));
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
    }

    // QoS 1 only: with QoS 2 the PUBREC of the publish before the refusal leaves too, but the close
    // comes before the client's PUBREL is answered, so MQTTnet's client reports that publish as failed
    // (it sends the PUBREL again on its next connection, not the message).
    [Fact]
    public async Task A_publish_refused_on_arrival_on_MQTT311_closes_the_connection_after_the_acks_before_it_and_nothing_read_after_it_is_stored()
    {
        const MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce;
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev3-big", MqttProtocolVersion.V311);
        await WarmUpAndCloseAsync(device);
        var refusedBefore = Metrics.Get("mqtt_publishes_refused_total");
        var ignoredBefore = Metrics.Get("mqtt_publishes_ignored_total");

        var first = await PublishHeldAsync(device, "sensors/a/temp", "before-refusal", qos);
        var tooLarge = device.PublishAsync("sensors/a/temp", TooLarge, qos);
        var after = device.PublishAsync("sensors/a/temp", "after-refusal", qos);
        await device.PublishAsync("sensors/a/temp", "after-refusal-qos0", MqttQualityOfServiceLevel.AtMostOnce);
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_refused_total") == refusedBefore + 1 && Metrics.Get("mqtt_publishes_ignored_total") == ignoredBefore + 2,
            TimeSpan.FromSeconds(10), "the oversized publish to be refused and the two after it read");
        Sync.Open();

        // The stored one before the refusal is acknowledged, so the client will not send it again; the
        // refused one and the one read after it are not, and the connection is closed.
        Assert.True((await first.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);
        await Assert.ThrowsAnyAsync<Exception>(() => tooLarge.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAnyAsync<Exception>(() => after.WaitAsync(TimeSpan.FromSeconds(10)));
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
        var stored = StoredPayloads();
        Assert.Single(stored, p => p == "before-refusal");
        Assert.DoesNotContain("after-refusal", stored);
        Assert.DoesNotContain("after-refusal-qos0", stored);
    }

    [Fact]
    public async Task A_QoS0_publish_refused_on_MQTT311_closes_the_connection_only_after_the_acks_waiting_before_it()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev3-big0", MqttProtocolVersion.V311);
        await WarmUpAndCloseAsync(device);
        var refusedBefore = Metrics.Get("mqtt_publishes_refused_total");

        var first = await PublishHeldAsync(device, "sensors/a/temp", "qos1-before");
        await device.PublishAsync("sensors/a/temp", TooLarge, MqttQualityOfServiceLevel.AtMostOnce);
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_refused_total") == refusedBefore + 1, TimeSpan.FromSeconds(10), "the oversized QoS 0 publish to be refused");
        Assert.True(device.IsConnected, "the connection was closed while an ack was still waiting for its fsync");
        Sync.Open();

        // The stored one's ack leaves (the client will not send it again), then the connection is closed.
        Assert.True((await first.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
        var stored = StoredPayloads();
        Assert.Single(stored, p => p == "qos1-before");
        Assert.DoesNotContain(stored, p => p.Length > 1000);
    }

    /// <summary>Over the store's limit of 1 MiB per message: refused on arrival.</summary>
    private static readonly string TooLarge = new('x', (1 << 20) + 1);

    private List<string> StoredPayloads() =>
        _gateway.App.Services.GetRequiredService<Gateway.Core.Outbox.IOutbox>().ReadAfter(0, 1000, 8 << 20)
            .Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Payload.Span)).ToList();

    /// <summary>A local MQTT 5 client subscribed to every sensor topic, watching what is delivered.</summary>
    private async Task<MqttTestClient> ConnectSubscriberAsync(string clientId)
    {
        var subscriber = await MqttTestClient.ConnectAsync(MqttPort, clientId, MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("sensors/#");
        return subscriber;
    }

    /// <summary>Publishes, and once the commit holding it has reached the shut gate returns the publish, its ack still pending.</summary>
    private async Task<Task<MqttClientPublishResult>> PublishHeldAsync(MqttTestClient device, string topic, string payload,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var publish = device.PublishAsync(topic, payload, qos);
        await Poll.UntilAsync(() => Sync.Entered.IsSet, TimeSpan.FromSeconds(10), $"the commit of '{payload}' to reach its fsync");
        return publish;
    }

    /// <summary>The first commit into new files makes LiteDB flush on its own: get it done, then shut the gate on the next fsync.</summary>
    private async Task WarmUpAndCloseAsync(MqttTestClient device)
    {
        var syncedBefore = Sync.SyncsCompleted;
        Assert.True((await device.PublishAsync("sensors/a/temp", "warm-up").WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);
        await Poll.UntilAsync(() => Sync.SyncsCompleted > syncedBefore, TimeSpan.FromSeconds(10), "the warm-up's fsync to finish");
        Sync.Entered.Reset();
        Sync.Close();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_client_with_several_publishes_in_flight_is_read_on_while_the_first_commit_syncs_and_each_is_acked_after_its_own(MqttProtocolVersion version)
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "pipeliner", version);
        await WarmUpAndCloseAsync(device);
        var received = Metrics.Get("mqtt_publishes_received_total");

        var first = await PublishHeldAsync(device, "sensors/a/temp", "p0");
        var rest = Enumerable.Range(1, 4).Select(i => device.PublishAsync("sensors/a/temp", $"p{i}")).ToList();

        // The connection's receive loop is not held by the first commit: the others arrive meanwhile.
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") == received + 5, TimeSpan.FromSeconds(10),
            "the four publishes behind the first to be read while its fsync is held");
        // And none of the five is acknowledged while that fsync has not returned.
        await Assert.ThrowsAsync<TimeoutException>(() => Task.WhenAny(rest.Prepend(first)).Unwrap().WaitAsync(TimeSpan.FromMilliseconds(300)));

        // The first fsync returns, the next (the commit of the four behind it) is held: only the first is acknowledged.
        Sync.Entered.Reset();
        Sync.PassOne();
        Assert.True((await first.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);
        await Poll.UntilAsync(() => Sync.Entered.IsSet, TimeSpan.FromSeconds(10), "the second commit to reach its fsync");
        await Assert.ThrowsAsync<TimeoutException>(() => Task.WhenAny(rest).Unwrap().WaitAsync(TimeSpan.FromMilliseconds(300)));

        Sync.Open();
        var results = await Task.WhenAll(rest).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(results, r => Assert.True(r.IsSuccess, $"{r.ReasonCode} {r.ReasonString}"));
    }

    [Fact]
    public async Task A_local_MQTT_subscriber_gets_a_QoS1_message_only_once_its_commit_is_on_disk()
    {
        await using var subscriber = await ConnectSubscriberAsync("watcher");
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev-local", MqttProtocolVersion.V500);
        await using var other = await MqttTestClient.ConnectAsync(MqttPort, "dev-other", MqttProtocolVersion.V500);
        await WarmUpAndCloseAsync(device);
        await Poll.UntilAsync(() => subscriber.Received.Any(m => m.ConvertPayloadToString() == "warm-up"), TimeSpan.FromSeconds(10), "the warm-up to reach the subscriber");

        var publish = await PublishHeldAsync(device, "sensors/b/temp", "held");
        // A QoS 0 message from another device, sent after it, is delivered on arrival (nobody waits
        // for its commit): once it is at the subscriber, the held one would be too had it not waited.
        await other.PublishAsync("sensors/c/marker", "after", MqttQualityOfServiceLevel.AtMostOnce);
        await Poll.UntilAsync(() => subscriber.Received.Any(m => m.ConvertPayloadToString() == "after"), TimeSpan.FromSeconds(10), "the QoS 0 marker to reach the subscriber");
        Assert.DoesNotContain(subscriber.Received, m => m.ConvertPayloadToString() == "held");

        Sync.Open();
        Assert.True((await publish.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);
        await Poll.UntilAsync(() => subscriber.Received.Any(m => m.ConvertPayloadToString() == "held" && m.Topic == "sensors/b/temp"),
            TimeSpan.FromSeconds(10), "the stored message to reach the local subscriber");
    }

    [Fact]
    public async Task A_stored_message_whose_ack_had_not_left_when_the_device_disconnected_still_reaches_local_subscribers()
    {
        await using var subscriber = await ConnectSubscriberAsync("end-watcher");
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev-leaving", MqttProtocolVersion.V500);
        await WarmUpAndCloseAsync(device);

        var received = Metrics.Get("mqtt_publishes_received_total");
        var first = await PublishHeldAsync(device, "sensors/e/temp", "left-1"); // its ack may leave or not as the connection closes: only delivery is asserted
        // The send loop holds the first one's ack; the second one's waits in MQTTnet's queue behind it.
        var second = device.PublishAsync("sensors/e/temp", "left-2");
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") == received + 2, TimeSpan.FromSeconds(10), "the second publish to be read");
        await device.Client.DisconnectAsync(); // their acks can no longer leave
        await Assert.ThrowsAnyAsync<Exception>(() => second.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(subscriber.Received, m => m.Topic == "sensors/e/temp");

        Sync.Open();
        await Poll.UntilAsync(() => subscriber.Received.Count(m => m.Topic == "sensors/e/temp") == 2, TimeSpan.FromSeconds(10),
            "both stored messages to reach the local subscriber after their device left");
        Assert.Equal(["left-1", "left-2"], subscriber.Received.Where(m => m.Topic == "sensors/e/temp").Select(m => m.ConvertPayloadToString()));
    }

    [Fact]
    public async Task A_QoS0_message_does_not_overtake_the_QoS1_message_sent_before_it_on_the_same_connection()
    {
        await using var subscriber = await ConnectSubscriberAsync("order-watcher");
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev-order", MqttProtocolVersion.V500);
        await WarmUpAndCloseAsync(device);

        var received = Metrics.Get("mqtt_publishes_received_total");
        var first = await PublishHeldAsync(device, "sensors/d/state", "first-qos1");
        await device.PublishAsync("sensors/d/state", "then-qos0", MqttQualityOfServiceLevel.AtMostOnce);
        // Both are in the gateway while the QoS 1 commit is held, and neither is delivered yet.
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") == received + 2, TimeSpan.FromSeconds(10), "the QoS 0 publish to be read");
        Assert.DoesNotContain(subscriber.Received, m => m.Topic == "sensors/d/state");
        Sync.Open();
        Assert.True((await first.WaitAsync(TimeSpan.FromSeconds(10))).IsSuccess);

        await Poll.UntilAsync(() => subscriber.Received.Count(m => m.Topic == "sensors/d/state") == 2, TimeSpan.FromSeconds(10), "both messages to reach the subscriber");
        Assert.Equal(["first-qos1", "then-qos0"], subscriber.Received.Where(m => m.Topic == "sensors/d/state").Select(m => m.ConvertPayloadToString()));
    }

    [Fact]
    public async Task A_client_far_ahead_of_its_acks_is_not_read_past_the_limit_of_acks_waiting()
    {
        var limit = Gateway.Mqtt.MqttIngest.MaxAcksWaiting;
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "flooder", MqttProtocolVersion.V311);
        await WarmUpAndCloseAsync(device);
        var received = Metrics.Get("mqtt_publishes_received_total");

        var publishes = Enumerable.Range(0, limit + 40).Select(i => device.PublishAsync("sensors/a/temp", $"q{i}")).ToList();
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") == received + limit, TimeSpan.FromSeconds(10),
            $"{limit} publishes to be read while the first commit's fsync is held");
        // With that many acks waiting, the connection is read no further until one leaves.
        await Assert.ThrowsAsync<TimeoutException>(() => Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") > received + limit,
            Patience.Quiet, "a publish beyond the limit to be read"));

        Sync.Open();
        var results = await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.Equal(received + limit + 40, Metrics.Get("mqtt_publishes_received_total"));
    }

    [Fact]
    public async Task A_failed_commit_on_MQTT311_acks_none_of_the_publishes_behind_it_and_closes_the_connection()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev3-pipe", MqttProtocolVersion.V311);
        await WarmUpAndCloseAsync(device);
        Sync.FailNext = new IOException("Input/output error");
        _gateway.ExpectErrors(GatewayErrors.CommitFailed + "Input/output error"); // the failure this test injects

        var first = await PublishHeldAsync(device, "sensors/a/temp", "f0");
        var received = Metrics.Get("mqtt_publishes_received_total");
        var rest = Enumerable.Range(1, 3).Select(i => device.PublishAsync("sensors/a/temp", $"f{i}")).ToList();
        await Poll.UntilAsync(() => Metrics.Get("mqtt_publishes_received_total") == received + 3, TimeSpan.FromSeconds(10),
            "the three publishes behind the first to be read while its fsync is held");
        Sync.Open(); // the held fsync fails; the later ones (in a commit of their own) succeed

        // MQTT 3.1.1 acks in order and has no negative ack: nothing behind the failure may be acknowledged either.
        foreach (var publish in rest.Prepend(first))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => publish.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
    }
}
