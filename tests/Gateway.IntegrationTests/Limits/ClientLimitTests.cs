using System.Diagnostics;
using Gateway.IntegrationTests.Mqtt;
using static Gateway.TestUtilities.MqttPacketBytes;

namespace Gateway.IntegrationTests.Limits;

/// <summary>
/// Gateway:Limits on what one client does, through the real gateway process with raw MQTT and STOMP:
/// each refusal (or slowing) as the protocol says, counted in gateway_limits_exceeded_total, and
/// another client on its own connection unaffected.
/// </summary>
public sealed class ClientLimitTests : IAsyncLifetime
{
    private GatewayProcess? _gateway;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
    }

    /// <summary>MQTT 5.0 section 4.13: DISCONNECT 0x95 Packet too large, then the close.</summary>
    [Fact]
    public async Task An_mqtt_packet_over_the_size_limit_closes_its_connection_and_is_counted()
    {
        var gateway = await StartAsync(new() { ["Gateway__Mqtt__MaxPacketBytes"] = "1024" });
        await using var big = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "big");
        await using var other = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "other");

        await big.SendAsync(Publish(5, Publish0, "t/big", payload: new string('x', 2000)));

        var packets = await big.PacketsUntilClosedAsync(Patience.Reaction);
        Assert.Equal(0x95, Assert.Single(packets, p => p.Type == RawMqttClient.Disconnect).Body[0]);
        Assert.Equal(1, await gateway.MetricAsync("limits_exceeded_total", "mqtt_packet_too_large"));
        await AssertStillServedAsync(other);
    }

    [Fact]
    public async Task A_stomp_frame_declaring_a_body_over_the_limit_gets_an_error_and_is_counted()
    {
        var gateway = await StartAsync([]);
        await using var big = await RawStompClient.ConnectAsync(gateway.StompPort);
        await using var other = await RawStompClient.ConnectAsync(gateway.StompPort);

        await big.SendAsync("SEND\ndestination:/topic/t.big\ncontent-length:2000000\n\n"); // the body never follows

        var error = await big.ReceiveAsync(Patience.Reaction);
        Assert.StartsWith("ERROR\n", error);
        Assert.Contains("over the limit of 1048576 bytes", error);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("limits_exceeded_total", "stomp_frame_too_large") == 1, Patience.Reaction, "the frame counted");
        await other.SendAsync("SEND\ndestination:/topic/t.small\nreceipt:r1\n\nhello");
        Assert.StartsWith("RECEIPT\n", await other.ReceiveAsync(Patience.Reaction));
    }

    /// <summary>Slowed, not refused: every publish is acknowledged with success, over the time the rate allows.</summary>
    [Fact]
    public async Task An_mqtt_client_publishing_faster_than_its_rate_is_slowed_while_another_is_not()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__PublishRatePerClient"] = "20", ["Gateway__Limits__PublishBurstPerClient"] = "10" });
        await using var fast = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "fast");
        await using var calm = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "calm");

        var clock = Stopwatch.StartNew();
        await fast.SendAsync(Concat([.. Enumerable.Range(1, 50).Select(i => Publish(5, Publish1, "t/fast", i, "m"))]));
        await calm.SendAsync(Concat([.. Enumerable.Range(1, 5).Select(i => Publish(5, Publish1, "t/calm", i, "m"))]));
        var calmAcks = await AcksAsync(calm, 5);
        var calmTime = clock.Elapsed;
        var fastAcks = await AcksAsync(fast, 50);
        var fastTime = clock.Elapsed;

        Assert.All(fastAcks.Concat(calmAcks), ack => Assert.True(ack.Body.Length == 2 || ack.Body[2] == 0, $"a refused PUBACK: {ack}"));
        Assert.True(fastTime >= TimeSpan.FromSeconds(1.8), $"50 publishes at 20/s after a burst of 10 took {fastTime}: not slowed");
        Assert.True(calmTime < fastTime, $"the calm client took {calmTime}, the fast one {fastTime}");
        Assert.True(await gateway.MetricAsync("limits_exceeded_total", "publish_rate") >= 1);
    }

    [Fact]
    public async Task A_stomp_connection_sending_faster_than_its_rate_is_slowed_and_every_send_is_stored()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__PublishRatePerClient"] = "20", ["Gateway__Limits__PublishBurstPerClient"] = "10" });
        await using var fast = await RawStompClient.ConnectAsync(gateway.StompPort);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 29; i++) await fast.SendAsync("SEND\ndestination:/topic/t.fast\n\nm");
        await fast.SendAsync("SEND\ndestination:/topic/t.fast\nreceipt:last\n\nm");

        Assert.StartsWith("RECEIPT\n", await fast.ReceiveAsync(Patience.Reaction));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"30 SENDs at 20/s after a burst of 10 took {clock.Elapsed}: not slowed");
        Assert.Equal(30, await gateway.MetricAsync("stomp_sends_received_total"));
        Assert.True(await gateway.MetricAsync("limits_exceeded_total", "publish_rate") >= 1);
    }

    /// <summary>MQTT 5.0 3.9.3: 0x97 Quota exceeded; MQTT 3.1.1 3.9.3: 0x80 Failure. A resubscription replaces, it does not count again.</summary>
    [Theory]
    [InlineData(5, 0x97)]
    [InlineData(4, 0x80)]
    public async Task A_subscription_beyond_the_session_limit_is_refused_in_suback_and_counted(int version, int refused)
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__MaxSubscriptionsPerClient"] = "2" });
        await using var client = await RawMqttClient.OpenAsync(gateway.MqttPort, version, "subscriber");
        await using var other = await RawMqttClient.OpenAsync(gateway.MqttPort, version, "other");

        await client.SendAsync(SubscribeTo(version, 1, "a/1", "a/2", "a/3"));
        var subAck = await client.ReceiveAsync(Patience.Reaction);
        await client.SendAsync(SubscribeTo(version, 2, "a/1"));
        var again = await client.ReceiveAsync(Patience.Reaction);
        await other.SendAsync(SubscribeTo(version, 1, "a/1", "a/2"));
        var otherAck = await other.ReceiveAsync(Patience.Reaction);

        Assert.Equal([1, 1, (byte)refused], subAck!.Value.Body[^3..]);
        Assert.Equal(1, again!.Value.Body[^1]);
        Assert.Equal([1, 1], otherAck!.Value.Body[^2..]);
        Assert.Equal(1, await gateway.MetricAsync("limits_exceeded_total", "mqtt_subscriptions"));
    }

    [Fact]
    public async Task A_stomp_subscription_beyond_the_connection_limit_gets_an_error_and_is_counted()
    {
        var gateway = await StartAsync(new() { ["Gateway__Stomp__MaxSubscriptionsPerConnection"] = "2" });
        await using var client = await RawStompClient.ConnectAsync(gateway.StompPort);

        for (var i = 1; i <= 3; i++) await client.SendAsync($"SUBSCRIBE\nid:{i}\ndestination:/topic/a.{i}\n\n");

        var error = await client.ReceiveAsync(Patience.Reaction);
        Assert.StartsWith("ERROR\n", error);
        Assert.Contains("too many subscriptions: at most 2 per connection", error);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("limits_exceeded_total", "stomp_subscriptions") == 1, Patience.Reaction, "the refusal counted");
    }

    /// <summary>MQTT 5.0: PUBACK 0x90 Topic Name invalid, SUBACK 0x8F Topic Filter invalid; MQTT 3.1.1 has no refusal in PUBACK: the connection is closed.</summary>
    [Fact]
    public async Task Topics_over_the_length_or_level_limits_are_refused_in_mqtt_and_stomp_and_counted()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__MaxTopicBytes"] = "32", ["Gateway__Limits__MaxTopicLevels"] = "4" });
        var tooLong = "t/" + new string('x', 40);
        await using var v5 = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "v5");
        await using var v3 = await RawMqttClient.OpenAsync(gateway.MqttPort, 4, "v3");
        await using var stomp = await RawStompClient.ConnectAsync(gateway.StompPort);

        await v5.SendAsync(Publish(5, Publish1, tooLong, 1, "m"));
        var longAck = await v5.ReceiveAsync(Patience.Reaction);
        await v5.SendAsync(Publish(5, Publish1, "a/b/c/d/e", 2, "m"));
        var deepAck = await v5.ReceiveAsync(Patience.Reaction);
        await v5.SendAsync(SubscribeTo(5, 3, "a/+/c/d/#"));
        var subAck = await v5.ReceiveAsync(Patience.Reaction);
        await v5.SendAsync(Publish(5, Publish1, "a/b/c/d", 4, "m"));
        var fineAck = await v5.ReceiveAsync(Patience.Reaction);
        await v3.SendAsync(Publish(4, Publish1, tooLong, 1, "m"));
        var v3Packets = await v3.PacketsUntilClosedAsync(Patience.Reaction);
        await stomp.SendAsync($"SEND\ndestination:/topic/{tooLong.Replace('/', '.')}\nreceipt:r\n\nm");
        var stompError = await stomp.ReceiveAsync(Patience.Reaction);

        Assert.Equal(0x90, longAck!.Value.Body[2]);
        Assert.Equal(0x90, deepAck!.Value.Body[2]);
        Assert.Equal(0x8F, subAck!.Value.Body[^1]);
        Assert.True(fineAck!.Value.Body.Length == 2 || fineAck.Value.Body[2] == 0, $"a topic within the limits was refused: {fineAck}");
        Assert.DoesNotContain(v3Packets, p => p.Type == RawMqttClient.PubAck);
        Assert.StartsWith("ERROR\n", stompError);
        Assert.Contains("longer than 32 (Gateway:Limits:MaxTopicBytes)", stompError);
        Assert.Equal(3, await gateway.MetricAsync("limits_exceeded_total", "topic_length"));
        Assert.Equal(2, await gateway.MetricAsync("limits_exceeded_total", "topic_levels"));
        Assert.Equal(1, await gateway.MetricAsync("mqtt_publishes_received_total")); // only the one within the limits went on
    }

    private async Task<GatewayProcess> StartAsync(Dictionary<string, string> settings)
    {
        _gateway = new GatewayProcess(settings);
        await _gateway.StartAsync();
        return _gateway;
    }

    private static async Task<List<RawMqttPacket>> AcksAsync(RawMqttClient client, int count)
    {
        var acks = new List<RawMqttPacket>();
        while (acks.Count < count)
        {
            var packet = await client.ReceiveAsync(Patience.Reaction) ?? throw new InvalidOperationException($"closed after {acks.Count} acks");
            if (packet.Type == RawMqttClient.PubAck) acks.Add(packet);
        }
        return acks;
    }

    private static async Task AssertStillServedAsync(RawMqttClient client)
    {
        await client.SendAsync(RawMqttConnection.PingReq);
        Assert.Equal(13, (await client.ReceiveAsync(Patience.Reaction))?.Type); // PINGRESP
    }
}
