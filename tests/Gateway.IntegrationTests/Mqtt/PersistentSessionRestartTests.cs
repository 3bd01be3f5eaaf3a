using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// Persistent sessions and retained messages through a SIGKILL and a restart of the real gateway
/// process: subscriptions, queued and in-flight QoS 1 messages, each delivered once; session expiry;
/// the bound on a session's queue. MQTT 3.1.1 section 3.1.2.4 and MQTT 5 sections 3.1.2.11.2 and 4.1.
/// </summary>
public sealed class PersistentSessionRestartTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public Task InitializeAsync() => StartAsync(new Dictionary<string, string>());

    private async Task StartAsync(Dictionary<string, string> settings)
    {
        _gateway = new GatewayProcess(settings);
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload);

    private async Task KillAndRestartAsync()
    {
        await _gateway.KillAsync();
        await _gateway.StartAsync();
    }

    /// <summary>A client resuming (or starting) a session: clean session/start 0; MQTT 5 with <paramref name="expiry"/>.</summary>
    private async Task<(MqttTestClient Client, bool SessionPresent)> ResumeAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311,
        uint expiry = 0, bool acknowledge = true)
    {
        var client = new MqttTestClient();
        if (!acknowledge)
        {
            client.Client.ApplicationMessageReceivedAsync += e =>
            {
                e.AutoAcknowledge = false; // received and never acknowledged: in flight at the gateway
                return Task.CompletedTask;
            };
        }
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", _gateway.MqttPort)
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .WithCleanSession(false)
            .WithTimeout(TimeSpan.FromSeconds(30));
        if (version == MqttProtocolVersion.V500) options.WithSessionExpiryInterval(expiry);
        var result = await client.Client.ConnectAsync(options.Build());
        return (client, result.IsSessionPresent);
    }

    private async Task<List<string>> PublishAsync(string topic, string prefix, int count, int start = 0)
    {
        await using var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub-" + Guid.NewGuid().ToString("N")[..8]);
        return await publisher.PublishSequenceAsync(topic, prefix, count, start);
    }

    /// <summary>
    /// Publishes a marker after everything else and waits for it: a session's messages arrive in order,
    /// so once it is there, nothing sent before it is still to come, and duplicates would have shown.
    /// </summary>
    private async Task<List<string>> ReceivedUpToMarkerAsync(MqttTestClient client, string topic)
    {
        var marker = "marker-" + Guid.NewGuid().ToString("N")[..8];
        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "marker-pub"))
            Assert.True((await publisher.PublishAsync(topic, marker)).IsSuccess);
        await Poll.UntilAsync(() => client.Received.Any(m => Text(m) == marker), Patience.Reaction, $"the marker on {topic}");
        return client.Received.Where(m => m.Topic == topic).Select(Text).TakeWhile(t => t != marker).ToList();
    }

    [Fact]
    public async Task A_persistent_sessions_subscriptions_and_queued_messages_survive_a_SIGKILL_and_each_arrives_once_MQTT_3_1_2_4()
    {
        var (subscriber, present) = await ResumeAsync("keeper");
        Assert.False(present);
        await subscriber.SubscribeAsync("kept/#");
        await subscriber.DisposeAsync();
        var acked = await PublishAsync("kept/a", "k", 5);

        await KillAndRestartAsync();
        // Queued by the gateway for the session it read back: its subscription is kept.
        acked.AddRange(await PublishAsync("kept/a", "k", 2, start: 5));

        (subscriber, present) = await ResumeAsync("keeper");
        await using (subscriber)
        {
            Assert.True(present, "CONNACK's Session Present is 1 for a session the gateway kept (MQTT-3.2.2-2)");
            // No SUBSCRIBE after the restart: the marker reaches it through the restored subscription.
            Assert.Equal(acked, await ReceivedUpToMarkerAsync(subscriber, "kept/a"));
        }
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_session_messages_kept") == 0, Patience.Reaction, "the acknowledged messages forgotten");
    }

    [Fact]
    public async Task Retained_messages_survive_a_SIGKILL_once_per_topic_with_their_properties_MQTT_3_3_1_5()
    {
        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "retainer", MqttProtocolVersion.V500))
        {
            Assert.True((await publisher.PublishAsync("status/line1", "old", retain: true)).IsSuccess);
            var message = new MqttApplicationMessageBuilder()
                .WithTopic("status/line1")
                .WithPayload("new")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithRetainFlag()
                .WithContentType("text/plain")
                .WithResponseTopic("status/replies")
                .WithCorrelationData([7, 7])
                .WithUserProperty("site", Encoding.UTF8.GetBytes("plant-7").AsMemory())
                .WithMessageExpiryInterval(3600)
                .Build();
            Assert.True((await publisher.Client.PublishAsync(message)).IsSuccess);
        }

        await KillAndRestartAsync();

        await using var reader = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "reader", MqttProtocolVersion.V500);
        await reader.SubscribeAsync("status/line1");
        var before = await ReceivedUpToMarkerAsync(reader, "status/line1");
        Assert.Equal(["new"], before);
        var retained = reader.Received.First(m => Text(m) == "new");
        Assert.True(retained.Retain);
        Assert.Equal("text/plain", retained.ContentType);
        Assert.Equal("status/replies", retained.ResponseTopic);
        Assert.Equal([7, 7], retained.CorrelationData);
        Assert.Equal("plant-7", Encoding.UTF8.GetString(Assert.Single(retained.UserProperties).ValueBuffer.Span));
        // The time left, not the interval it was published with (MQTT-3.3.2-6).
        Assert.InRange(retained.MessageExpiryInterval, 1u, 3600u);
    }

    [Fact]
    public async Task An_unacknowledged_delivery_is_sent_again_after_a_SIGKILL_MQTT_4_4_0_1()
    {
        var (slow, _) = await ResumeAsync("slow", MqttProtocolVersion.V500, expiry: 3600, acknowledge: false);
        await slow.SubscribeAsync("inflight/#");
        var acked = await PublishAsync("inflight/a", "f", 3);
        await Poll.UntilAsync(() => slow.Received.Count(m => m.Topic == "inflight/a") == 3, Patience.Reaction, "the three deliveries, left unacknowledged");

        await KillAndRestartAsync();
        slow.Client.Dispose();

        var (again, present) = await ResumeAsync("slow", MqttProtocolVersion.V500, expiry: 3600);
        await using (again)
        {
            Assert.True(present);
            Assert.Equal(acked, await ReceivedUpToMarkerAsync(again, "inflight/a"));
        }
    }

    [Fact]
    public async Task A_session_ends_its_expiry_interval_after_the_client_left_MQTT_3_1_2_23()
    {
        var (brief, _) = await ResumeAsync("brief", MqttProtocolVersion.V500, expiry: 2);
        await brief.SubscribeAsync("brief/#");
        await brief.DisposeAsync();
        await PublishAsync("brief/a", "b", 1);
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_session_messages_kept"));

        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_sessions_expired_total") == 1, Patience.Reaction, "the session expired");

        var (back, present) = await ResumeAsync("brief", MqttProtocolVersion.V500, expiry: 2);
        await using (back)
        {
            Assert.False(present, "the session ended: nothing of it is resumed");
            await back.SubscribeAsync("brief/#");
            Assert.Empty(await ReceivedUpToMarkerAsync(back, "brief/a"));
        }
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_session_messages_kept"));
    }

    [Fact]
    public async Task A_session_expiry_interval_sent_on_DISCONNECT_replaces_CONNECTs_MQTT_3_14_2_2_2()
    {
        var (client, _) = await ResumeAsync("shortened", MqttProtocolVersion.V500, expiry: 3600);
        await client.SubscribeAsync("short/#");
        await client.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(1).Build());
        client.Client.Dispose();

        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_sessions_expired_total") == 1, Patience.Reaction, "the session expired after the DISCONNECT's 1 s, not CONNECT's hour");
        var (back, present) = await ResumeAsync("shortened", MqttProtocolVersion.V500, expiry: 3600);
        await using (back) Assert.False(present);
    }

    [Fact]
    public async Task A_DISCONNECT_interval_after_a_CONNECT_without_one_does_not_keep_the_session_MQTT_3_14_2_2()
    {
        var (client, _) = await ResumeAsync("no-keep", MqttProtocolVersion.V500, expiry: 0);
        await client.SubscribeAsync("nokeep/#");
        await client.Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(600).Build());
        client.Client.Dispose();

        // CONNECT's 0 ended the session with the connection; MQTTnet alone would keep it for the DISCONNECT's 600 s.
        await Poll.UntilAsync(() => _gateway.Output.Contains("no-keep sent a session expiry interval of 600 s on DISCONNECT after 0 on CONNECT"), Patience.Reaction, "the protocol error logged");
        var (probe, present) = await ResumeAsync("no-keep", MqttProtocolVersion.V500, expiry: 0);
        await probe.DisposeAsync();
        Assert.False(present, "the session ended with its connection");
    }

    [Fact]
    public async Task A_full_session_queue_drops_its_oldest_counts_them_logs_once_and_keeps_the_newest_through_a_SIGKILL()
    {
        await _gateway.DisposeAsync();
        await StartAsync(new Dictionary<string, string> { ["Gateway__Mqtt__MaxPendingMessagesPerClient"] = "5" });
        var (small, _) = await ResumeAsync("small");
        await small.SubscribeAsync("small/#");
        await small.DisposeAsync();

        var acked = await PublishAsync("small/a", "s", 8);
        Assert.Equal(3, await _gateway.MetricAsync("mqtt_session_messages_dropped_total"));
        await Poll.UntilAsync(() => _gateway.Output.Contains("MQTT session of small holds 5 queued messages"), Patience.Reaction, "the warning");
        Assert.Single(_gateway.Output.Split('\n'), l => l.Contains("MQTT session of small holds"));

        await KillAndRestartAsync();
        (small, _) = await ResumeAsync("small");
        await using (small) Assert.Equal(acked.Skip(3), await ReceivedUpToMarkerAsync(small, "small/a"));
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_sub_with_a_persistent_session_gets_what_was_queued_before_and_after_a_SIGKILL_once(string version)
    {
        var id = "mosq-" + version;
        var topic = "mosq/" + version;
        string[] session = version == "mqttv5" ? ["-V", version, "-x", "60"] : ["-V", version];
        var subscribe = await MosquittoSubAsync([.. session, "-c", "-i", id, "-q", "1", "-t", topic, "-E"]);
        Assert.Equal(0, subscribe.ExitCode);
        var acked = await PublishAsync(topic, "q", 2);

        await KillAndRestartAsync();
        acked.AddRange(await PublishAsync(topic, "q", 1, start: 2));

        var (exit, output) = await MosquittoSubAsync([.. session, "-c", "-i", id, "-q", "1", "-t", topic, "-C", "3", "-W", "30"]);
        Assert.Equal(0, exit);
        Assert.Equal(acked, output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>Debian's mosquitto_sub (mosquitto-clients, which ./test.sh installs).</summary>
    private Task<(int ExitCode, string Output)> MosquittoSubAsync(string[] args)
    {
        if (!File.Exists("/usr/bin/mosquitto_sub")) throw new InvalidOperationException("mosquitto_sub is missing: install mosquitto-clients (./test.sh does)");
        return ChildProcesses.RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), .. args], timeout: Patience.Reaction);
    }
}
