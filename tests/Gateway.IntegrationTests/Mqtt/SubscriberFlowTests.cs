using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.IntegrationTests.Browser;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// What the gateway sends to MQTT 5 subscribers, as their CONNECT asked, through the real gateway process:
/// Receive Maximum, Maximum Packet Size, topic aliases, and message expiry.
/// </summary>
public sealed class SubscriberFlowTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload);

    private MqttClientOptionsBuilder Options(string clientId) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", _gateway.MqttPort)
        .WithClientId(clientId)
        .WithProtocolVersion(MqttProtocolVersion.V500)
        .WithTimeout(TimeSpan.FromSeconds(30));

    private Task<MqttTestClient> PublisherAsync() => MqttTestClient.ConnectAsync(_gateway.MqttPort, "publisher", MqttProtocolVersion.V500);

    [Fact]
    public async Task A_third_QoS1_message_waits_while_two_are_unacknowledged_with_receive_maximum_2() // MQTT-3.3.4-9
    {
        var held = new ConcurrentQueue<MqttApplicationMessageReceivedEventArgs>();
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false; // the test acknowledges, one at a time
            held.Enqueue(e);
            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(Options("slow-reader").WithReceiveMaximum(2).Build());
        await subscriber.SubscribeAsync("window/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await PublisherAsync();

        await publisher.PublishSequenceAsync("window/a", "p", 3);

        // The gateway decided to hold the third back: it cannot arrive before an ack makes room.
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_publishes_deferred_total") >= 1, Patience.Reaction, "the third publish held back");
        await Poll.UntilAsync(() => held.Count >= 2, Patience.Reaction, "the first two");
        Assert.Equal(["p:0", "p:1"], held.Select(e => Text(e.ApplicationMessage)));

        held.TryPeek(out var first);
        await first!.AcknowledgeAsync(CancellationToken.None);

        await Poll.UntilAsync(() => held.Count == 3, Patience.Reaction, "the third after one ack");
        Assert.Equal("p:2", Text(held.Last().ApplicationMessage));
        foreach (var e in held.Skip(1)) await e.AcknowledgeAsync(CancellationToken.None);
        Assert.True(subscriber.IsConnected);
    }

    [Fact]
    public async Task A_message_that_expires_while_waiting_for_the_receive_maximum_is_not_delivered() // MQTT-3.3.2-5, MQTT-3.3.4-9
    {
        var held = new ConcurrentQueue<MqttApplicationMessageReceivedEventArgs>();
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false;
            held.Enqueue(e);
            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(Options("one-at-a-time").WithReceiveMaximum(1).Build());
        await subscriber.SubscribeAsync("expiry/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await PublisherAsync();

        await publisher.Client.PublishAsync(Expiring("first", seconds: 0));
        await publisher.Client.PublishAsync(Expiring("short", seconds: 1));
        var published = Stopwatch.StartNew(); // acknowledged: it entered the gateway before this
        await publisher.Client.PublishAsync(Expiring("last", seconds: 0));
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_publishes_deferred_total") >= 2, Patience.Reaction, "two held behind the first");
        await Poll.UntilAsync(() => published.Elapsed > TimeSpan.FromSeconds(1.5), Patience.Reaction, "the short interval to pass");

        held.TryPeek(out var first);
        await first!.AcknowledgeAsync(CancellationToken.None);

        await Poll.UntilAsync(() => held.Count == 2, Patience.Reaction, "the message after the expired one");
        Assert.Equal(["first", "last"], held.Select(e => Text(e.ApplicationMessage)));
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_messages_expired_total"));
    }

    [Fact]
    public async Task A_message_larger_than_the_client_maximum_packet_size_is_discarded_counted_and_logged_once() // MQTT-3.1.2-24, MQTT-3.1.2-25
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "small-packets", MqttProtocolVersion.V500,
            o => o.WithMaximumPacketSize(300));
        await subscriber.SubscribeAsync("sizes/#");
        await using var publisher = await PublisherAsync();

        Assert.True((await publisher.PublishAsync("sizes/a", new string('x', 1000))).IsSuccess);
        Assert.True((await publisher.PublishAsync("sizes/a", new string('y', 2000))).IsSuccess);
        Assert.True((await publisher.PublishAsync("sizes/a", "small")).IsSuccess);

        // In order: had either large one been sent, it would have arrived before this.
        await Poll.UntilAsync(() => subscriber.Received.Any(m => Text(m) == "small"), Patience.Reaction, "the small message");
        Assert.Single(subscriber.Received);
        Assert.Equal(2, await _gateway.MetricAsync("mqtt_publishes_too_large_for_client_total"));
        Assert.True(subscriber.IsConnected); // discarded, not a broken connection
        Assert.Single(_gateway.Output.Split('\n'), l => l.Contains("exceeds the Maximum Packet Size client small-packets announced"));
    }

    [Fact]
    public async Task Mosquitto_sub_with_a_maximum_packet_size_gets_the_small_message_and_stays_connected() // MQTT-3.1.2-25
    {
        if (!File.Exists("/usr/bin/mosquitto_sub")) throw new InvalidOperationException("mosquitto_sub is missing: install mosquitto-clients (./test.sh does)");
        // stdbuf: line by line, so SUBACK shows as it happens (mosquitto_sub writes through stdio, fully buffered into a pipe).
        using var sub = new StreamingProcess("stdbuf",
            ["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), "-V", "mqttv5", "-i", "mosquitto-small", "-q", "1",
             "-D", "connect", "maximum-packet-size", "300", "-t", "mosq/#", "-v", "-d"]);
        await Poll.UntilAsync(() => sub.Lines.Any(l => l.Contains("received SUBACK")), Patience.Reaction, "mosquitto_sub subscribed");
        await using var publisher = await PublisherAsync();

        Assert.True((await publisher.PublishAsync("mosq/a", new string('x', 1000))).IsSuccess);
        Assert.True((await publisher.PublishAsync("mosq/a", "small")).IsSuccess);

        await Poll.UntilAsync(() => sub.Lines.Any(l => l == "mosq/a small"), Patience.Reaction, "the small message printed");
        Assert.Single(sub.Lines, l => l.Contains("received PUBLISH")); // in order: the large one never came before it
        Assert.False(sub.HasExited, string.Join('\n', sub.Lines));
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_publishes_too_large_for_client_total"));
    }

    [Fact]
    public async Task A_repeated_topic_goes_out_in_full_with_an_alias_once_then_as_the_alias_alone() // MQTT-3.3.2-12, section 3.3.2.3.4
    {
        // MQTTnet's client hands aliases to the application unresolved: what it receives is what was on the wire.
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "alias-taker", MqttProtocolVersion.V500,
            o => o.WithTopicAliasMaximum(1));
        await subscriber.SubscribeAsync("aliases/#");
        await using var publisher = await PublisherAsync();

        await publisher.PublishSequenceAsync("aliases/one", "a", 3);
        await publisher.PublishSequenceAsync("aliases/two", "b", 2);

        await Poll.UntilAsync(() => subscriber.Received.Count == 5, Patience.Reaction, "five messages");
        var wire = subscriber.Received.Select(m => (m.Topic ?? "", m.TopicAlias, Text(m))).ToList();
        Assert.Equal(
        [
            ("aliases/one", (ushort)1, "a:0"),
            ("", (ushort)1, "a:1"),
            ("", (ushort)1, "a:2"),
            ("aliases/two", (ushort)1, "b:0"), // the only alias the client allows, reassigned with the topic in full
            ("", (ushort)1, "b:1"),
        ], wire);
    }

    [Fact]
    public async Task A_client_that_allows_no_aliases_gets_every_topic_in_full() // MQTT-3.3.2-8: the client's maximum, 0 when absent
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "no-aliases", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("plain/#");
        await using var publisher = await PublisherAsync();

        await publisher.PublishSequenceAsync("plain/t", "p", 3);

        await Poll.UntilAsync(() => subscriber.Received.Count == 3, Patience.Reaction, "three messages");
        Assert.All(subscriber.Received, m => Assert.Equal(("plain/t", (ushort)0), (m.Topic, m.TopicAlias)));
    }

    [Fact]
    public async Task With_SendTopicAliases_off_a_client_that_allows_aliases_gets_every_topic_in_full()
    {
        await using var gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__SendTopicAliases"] = "false" }, id: "gw-noalias");
        await gateway.StartAsync();
        await using var subscriber = await MqttTestClient.ConnectAsync(gateway.MqttPort, "alias-taker", MqttProtocolVersion.V500, o => o.WithTopicAliasMaximum(10));
        await subscriber.SubscribeAsync("full/#");
        await using var publisher = await MqttTestClient.ConnectAsync(gateway.MqttPort, "publisher", MqttProtocolVersion.V500);

        await publisher.PublishSequenceAsync("full/t", "p", 3);

        await Poll.UntilAsync(() => subscriber.Received.Count == 3, Patience.Reaction, "three messages");
        Assert.All(subscriber.Received, m => Assert.Equal(("full/t", (ushort)0), (m.Topic, m.TopicAlias)));
        gateway.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task MqttJs_resolves_the_aliases_the_gateway_assigns_and_the_wire_shows_them() // section 3.3.2.3.4
    {
        // Not Debian's mosquitto_sub: libmosquitto 2.0.11 ends the connection at the first PUBLISH with an
        // empty topic and an alias (eclipse-mosquitto/mosquitto#1468); SendTopicAliases=false is for such clients.
        var result = await NodeScript.RunAsync("mqtt-aliases.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{_gateway.MqttPort}",
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{_gateway.HttpPort}",
            ["BROWSER_TOPIC_PREFIX"] = "mqttjs",
        }, Patience.Delivery);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_topic_aliases_assigned_total"));
    }

    [Fact]
    public async Task A_message_that_expires_while_a_persistent_session_is_away_is_not_delivered_and_one_that_is_carries_the_time_left() // MQTT-3.3.2-5, MQTT-3.3.2-6
    {
        var session = Options("away-a-while").WithCleanStart(false).WithSessionExpiryInterval(300);
        await using (var subscriber = new MqttTestClient())
        {
            await subscriber.Client.ConnectAsync(session.Build());
            await subscriber.SubscribeAsync("expiry/#");
        }
        await using var publisher = await PublisherAsync();

        await publisher.Client.PublishAsync(Expiring("short", seconds: 1));
        var published = Stopwatch.StartNew(); // acknowledged: it entered the gateway before this
        await publisher.Client.PublishAsync(Expiring("long", seconds: 60));
        await Poll.UntilAsync(() => published.Elapsed > TimeSpan.FromSeconds(1.5), Patience.Reaction, "the short interval to pass");

        await using var back = new MqttTestClient();
        await back.Client.ConnectAsync(session.Build());

        // In order: had "short" been delivered, it would have arrived before "long".
        await Poll.UntilAsync(() => back.Received.Any(m => Text(m) == "long"), Patience.Reaction, "the message still valid");
        var delivered = Assert.Single(back.Received);
        Assert.InRange(delivered.MessageExpiryInterval, 1u, 59u); // what is left of 60, not 60
        Assert.DoesNotContain(delivered.UserProperties ?? [], p => p.Name == "gateway-entered-at"); // the gateway's own bookkeeping stays inside
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_messages_expired_total"));

        // MQTTnet keeps the expired one unacknowledged and offers it again on the next resumption, before
        // anything newer: discarded again, neither delivered nor counted twice.
        await back.Client.DisconnectAsync();
        await using var again = new MqttTestClient();
        await again.Client.ConnectAsync(session.Build());
        await publisher.Client.PublishAsync(Expiring("marker", seconds: 0));
        await Poll.UntilAsync(() => again.Received.Any(m => Text(m) == "marker"), Patience.Reaction, "the message published after resuming");
        Assert.Equal(["marker"], again.Received.Select(Text));
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_messages_expired_total"));
    }

    private static MqttApplicationMessage Expiring(string payload, uint seconds) => new MqttApplicationMessageBuilder()
        .WithTopic("expiry/a")
        .WithPayload(payload)
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .WithMessageExpiryInterval(seconds)
        .Build();

    /// <summary>A client program left running, its output lines kept as they come.</summary>
    private sealed class StreamingProcess : IDisposable
    {
        private readonly Process _process;

        public StreamingProcess(string file, IEnumerable<string> args)
        {
            var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Lines.Enqueue(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Lines.Enqueue("stderr: " + e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public ConcurrentQueue<string> Lines { get; } = new();

        public bool HasExited => _process.HasExited;

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}
