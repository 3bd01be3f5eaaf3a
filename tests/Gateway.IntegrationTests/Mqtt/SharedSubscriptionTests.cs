using System.Collections.Concurrent;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// Shared subscriptions, <c>$share/{group}/{filter}</c> (MQTT 5.0 section 4.8.2), through the real gateway
/// process, with the MQTTnet client and Debian's mosquitto_sub.
/// </summary>
public sealed class SharedSubscriptionTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload);

    private Task WaitForMembersAsync(int count) =>
        Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_shared_subscriptions") == count, Patience.Reaction, $"{count} shared subscriptions");

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)] // Mosquitto lets 3.1.1 clients share too
    public async Task Each_message_goes_to_one_member_of_the_group_in_turn_and_plain_subscribers_get_all(MqttProtocolVersion version)
    {
        var members = new List<MqttTestClient>();
        for (var i = 0; i < 3; i++)
        {
            var member = new MqttTestClient();
            var connected = await member.Client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", _gateway.MqttPort).WithClientId($"worker-{i}").WithProtocolVersion(version).Build());
            // MQTT 5.0 3.2.2.3.15: the CONNACK says shared subscriptions are available (absent in 3.1.1's).
            if (version == MqttProtocolVersion.V500) Assert.True(connected.SharedSubscriptionAvailable);
            await member.SubscribeAsync("$share/workers/jobs/#");
            members.Add(member);
        }
        await using var plain = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "auditor", version);
        await plain.SubscribeAsync("jobs/#");
        await WaitForMembersAsync(3);

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "dispatcher", version))
            await publisher.PublishSequenceAsync("jobs/build", "job", 9);

        await Poll.UntilAsync(() => members.Sum(m => m.Received.Count) >= 9 && plain.Received.Count >= 9, Patience.Reaction, "the jobs");
        var all = members.SelectMany(m => m.Received.Select(Text)).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 9).Select(i => $"job:{i}").Order(), all); // each once to the group
        Assert.All(members, m => Assert.Equal(3, m.Received.Count)); // round robin among connected members
        Assert.All(members, m => Assert.All(m.Received, r => Assert.Equal("jobs/build", r.Topic))); // the original topic
        Assert.Equal(9, plain.Received.Count);
        foreach (var member in members) await member.DisposeAsync();
        _gateway.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task A_share_name_that_breaks_the_rules_is_refused_in_the_suback_and_the_valid_filters_granted()
    {
        await using var client = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "picky", MqttProtocolVersion.V500);
        var options = new MqttClientSubscribeOptionsBuilder()
            // ("$share/g+/t" breaks MQTT-4.8.2-2 too, but is no well-formed topic filter at all (MQTT-4.7.1-3):
            // a protocol error that closes the connection, as MqttProtocolChecksTests shows, not a SUBACK code.)
            .WithTopicFilter("$share//t", MqttQualityOfServiceLevel.AtLeastOnce) // MQTT-4.8.2-1: a ShareName of at least one character
            .WithTopicFilter("$share/g", MqttQualityOfServiceLevel.AtLeastOnce) // MQTT-4.8.2-2: "/" and a topic filter after it
            .WithTopicFilter("$share/g/t", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();

        var result = await client.Client.SubscribeAsync(options);

        Assert.Equal(
            [MqttClientSubscribeResultCode.TopicFilterInvalid, MqttClientSubscribeResultCode.TopicFilterInvalid, MqttClientSubscribeResultCode.GrantedQoS1],
            result.Items.Select(i => i.ResultCode));
        await WaitForMembersAsync(1); // only the valid one joined a group
        var unsubscribed = await client.Client.UnsubscribeAsync("$share/g/t");
        Assert.Equal(MqttClientUnsubscribeResultCode.Success, unsubscribed.Items.Single().ResultCode);
        await WaitForMembersAsync(0);
    }

    [Fact]
    public async Task No_Local_on_a_shared_subscription_is_a_protocol_error_that_closes_the_connection()
    {
        await using var client = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "nolocal", MqttProtocolVersion.V500);
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
        var options = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(new MqttTopicFilter { Topic = "$share/g/t", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce, NoLocal = true })
            .Build();

        // MQTT-3.8.3-4: a Protocol Error, so DISCONNECT 0x82 and no SUBACK.
        await Assert.ThrowsAnyAsync<Exception>(() => client.Client.SubscribeAsync(options));
        var e = await disconnected.Task.WaitAsync(Patience.Reaction);
        Assert.Equal(MqttClientDisconnectReason.ProtocolError, e.Reason);
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_shared_subscriptions"));
    }

    [Fact]
    public async Task A_delivery_its_receiver_did_not_acknowledge_goes_to_another_member_when_it_leaves()
    {
        var (silent, silentGot) = await ConnectSilentMemberAsync("silent", "$share/g/orders/#");
        await using var steady = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "steady", MqttProtocolVersion.V500);
        await steady.SubscribeAsync("$share/g/orders/#");
        await WaitForMembersAsync(2);

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "shop"))
            await publisher.PublishSequenceAsync("orders/new", "order", 4);
        await Poll.UntilAsync(() => silentGot.Count == 2 && steady.Received.Count == 2, Patience.Reaction, "two orders each");

        silent.Dispose(); // the socket closes, no DISCONNECT, no PUBACK for its two
        await Poll.UntilAsync(() => steady.Received.Count >= 4, Patience.Reaction, "the silent member's orders at the steady one");
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"order:{i}"), steady.Received.Select(Text).Order());
        Assert.Equal(2, await _gateway.MetricAsync("mqtt_shared_redeliveries_total"));
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_shared_deliveries_lost_total"));
    }

    [Fact]
    public async Task A_leaver_whose_session_ends_passes_its_unacknowledged_deliveries_to_a_kept_session_or_they_are_counted_lost()
    {
        await using (var keeper = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false)))
            await keeper.SubscribeAsync("$share/g/night/#");
        var (silent, silentGot) = await ConnectSilentMemberAsync("silent", "$share/g/night/#");
        await WaitForMembersAsync(2);

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub"))
            await publisher.PublishAsync("night/batch", "only"); // the one connected member takes it
        await Poll.UntilAsync(() => silentGot.Count == 1, Patience.Reaction, "the message at the silent member");
        silent.Dispose(); // its clean session ends with the connection: the message goes to the keeper's session

        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_shared_redeliveries_total") == 1, Patience.Reaction, "the redelivery");
        await using (var back = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false)))
        {
            await Poll.UntilAsync(() => back.Received.Any(m => Text(m) == "only"), Patience.Reaction, "the message in the keeper's session");
            await back.Client.UnsubscribeAsync("$share/g/night/#");
        }
        await WaitForMembersAsync(0);

        // A group of one clean member that leaves without acknowledging: nowhere to go, counted.
        var (lonely, lonelyGot) = await ConnectSilentMemberAsync("lonely", "$share/solo/night/#");
        await WaitForMembersAsync(1);
        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub"))
            await publisher.PublishAsync("night/batch", "alone");
        await Poll.UntilAsync(() => lonelyGot.Count == 1, Patience.Reaction, "the message at the lonely member");
        lonely.Dispose();
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_shared_deliveries_lost_total") == 1, Patience.Reaction, "the loss counted");
    }

    /// <summary>A member that takes QoS 1 messages and never acknowledges them (no PUBACK), to drop off later.</summary>
    private async Task<(IMqttClient Client, ConcurrentQueue<string> Got)> ConnectSilentMemberAsync(string clientId, string filter)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var got = new ConcurrentQueue<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false;
            got.Enqueue(Text(e.ApplicationMessage));
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", _gateway.MqttPort).WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500).Build());
        await client.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        return (client, got);
    }

    [Fact]
    public async Task An_acknowledged_delivery_is_not_sent_again_when_its_receiver_leaves()
    {
        await using var steady = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "steady", MqttProtocolVersion.V500);
        await steady.SubscribeAsync("$share/g/orders/#");
        var leaving = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "leaving", MqttProtocolVersion.V500);
        await leaving.SubscribeAsync("$share/g/orders/#");
        await WaitForMembersAsync(2);

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "shop"))
            await publisher.PublishSequenceAsync("orders/new", "order", 4);
        await Poll.UntilAsync(() => leaving.Received.Count == 2 && steady.Received.Count == 2, Patience.Reaction, "two orders each");
        // Its PUBACKs are on their way: once the gateway has them, the leaving member owes nothing.
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_shared_deliveries_total") == 4
            && await _gateway.MetricAsync("mqtt_shared_unacknowledged") == 0, Patience.Reaction, "the PUBACKs");
        await leaving.DisposeAsync();
        await WaitForMembersAsync(1); // its clean session ended

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "shop"))
            await publisher.PublishAsync("orders/new", "marker");
        await Poll.UntilAsync(() => steady.Received.Any(m => Text(m) == "marker"), Patience.Reaction, "the next order");
        Assert.Equal(3, steady.Received.Count);
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_shared_redeliveries_total"));
    }

    [Fact]
    public async Task With_no_member_connected_a_message_waits_in_a_kept_session_and_a_clean_one_leaves_the_group()
    {
        await using (var keeper = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false)))
            await keeper.SubscribeAsync("$share/g/night/#");
        await using (var passer = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "passer"))
            await passer.SubscribeAsync("$share/g/night/#");
        await WaitForMembersAsync(1); // the clean session ended with its connection, and its membership with it

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub"))
            await publisher.PublishSequenceAsync("night/batch", "n", 3);

        await using var back = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false));
        await Poll.UntilAsync(() => back.Received.Count >= 3, Patience.Reaction, "the messages kept in its session");
        Assert.Equal(["n:0", "n:1", "n:2"], back.Received.Select(Text));
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_shared_deliveries_dropped_total"));
    }

    [Fact]
    public async Task A_shared_subscription_gets_no_retained_messages_and_carries_its_qos_and_subscription_identifier()
    {
        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device"))
            await device.PublishAsync("line/state", "retained", retain: true);
        await using var member = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "member", MqttProtocolVersion.V500);
        await member.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("$share/g/line/#", MqttQualityOfServiceLevel.ExactlyOnce)
            .WithSubscriptionIdentifier(42)
            .Build());
        await WaitForMembersAsync(1);

        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device", MqttProtocolVersion.V500))
        {
            await device.PublishAsync("line/state", "two", MqttQualityOfServiceLevel.ExactlyOnce);
            await device.PublishAsync("line/state", "one", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await Poll.UntilAsync(() => member.Received.Count >= 2, Patience.Reaction, "the two live messages");
        // MQTT 5.0 4.8.2: no retained message when a shared subscription is made, so only the live ones.
        Assert.Equal(["two", "one"], member.Received.Select(Text));
        // The lower of the message's QoS and the granted one (MQTT-3.8.4-8), and the identifier (MQTT-3.3.4-3).
        Assert.Equal([MqttQualityOfServiceLevel.ExactlyOnce, MqttQualityOfServiceLevel.AtLeastOnce], member.Received.Select(m => m.QualityOfServiceLevel));
        Assert.All(member.Received, m => Assert.Equal([42u], m.SubscriptionIdentifiers));
        Assert.All(member.Received, m => Assert.False(m.Retain));
        // QoS 2 settled at its PUBREC, QoS 1 at its PUBACK: nothing left to redeliver.
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_shared_unacknowledged") == 0, Patience.Reaction, "the acks");
    }

    [Fact]
    [Trait("Category", "Slow")] // Node.js
    public async Task MqttJs_members_over_WebSocket_and_TCP_share_the_messages_and_read_SYS_topics()
    {
        var result = await Browser.NodeScript.RunAsync("mqtt-shared.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{_gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{_gateway.MqttPort}",
            ["BROWSER_TOPIC_PREFIX"] = "s" + Guid.NewGuid().ToString("N")[..8],
        }, Patience.Delivery);
        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{_gateway.Output}");
        Assert.Equal(12, await _gateway.MetricAsync("mqtt_shared_deliveries_total"));
    }

    [Theory]
    [InlineData("mqttv5")]
    [InlineData("mqttv311")]
    public async Task Mosquitto_subscribers_of_one_share_group_split_the_messages(string version)
    {
        if (!File.Exists("/usr/bin/mosquitto_sub")) throw new InvalidOperationException("mosquitto_sub is missing: install mosquitto-clients (./test.sh does)");
        Task<(int ExitCode, string Output)> Subscriber(string id) => ChildProcesses.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), "-V", version, "-q", "1", "-i", id, "-t", "$share/g/t", "-C", "2", "-W", "60"],
            timeout: Patience.Delivery);
        var first = Subscriber("mosq-1");
        var second = Subscriber("mosq-2");
        await WaitForMembersAsync(2);

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub"))
            await publisher.PublishSequenceAsync("t", "m", 4);

        var outputs = await Task.WhenAll(first, second);
        Assert.All(outputs, o => Assert.True(o.ExitCode == 0, $"mosquitto_sub: {o.Output}"));
        var lines = outputs.SelectMany(o => o.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Order();
        Assert.Equal(["m:0", "m:1", "m:2", "m:3"], lines); // two each, every message once
    }
}
