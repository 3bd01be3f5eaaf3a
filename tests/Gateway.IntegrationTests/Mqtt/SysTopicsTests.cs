using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// The retained <c>$SYS/gateway/...</c> topics through the real gateway process: published every
/// <c>Gateway:Mqtt:SysTopicsInterval</c>, local only, out of reach of first-level wildcards (MQTT-4.7.2-1)
/// and of clients' publishes.
/// </summary>
public sealed class SysTopicsTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__SysTopicsInterval"] = "00:00:01" });
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload);

    private static string? Last(MqttTestClient client, string topic) =>
        client.Received.LastOrDefault(m => m.Topic == "$SYS/gateway/" + topic) is { } m ? Text(m) : null;

    [Fact]
    public async Task The_gateway_state_is_published_retained_and_refreshed()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device");
        await device.PublishSequenceAsync("sensors/a", "device", 3);
        await using var watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "watcher", MqttProtocolVersion.V500);
        await watcher.SubscribeAsync("$SYS/gateway/#");

        // The first copy of each is the retained one, sent at subscribe; then fresh ones every second.
        await Poll.UntilAsync(() => watcher.Received.Any(m => m.Retain && m.Topic == "$SYS/gateway/uptime"), Patience.Reaction, "the retained uptime");
        var firstUptime = long.Parse(Last(watcher, "uptime")!);
        await Poll.UntilAsync(() => long.Parse(Last(watcher, "uptime")!) > firstUptime && Last(watcher, "connections/mqtt") == "2"
            && Last(watcher, "messages/received/mqtt") == "3", Patience.Reaction, "a refreshed state");
        Assert.Equal("3", Last(watcher, "backlog/messages")); // no upstream: everything stays in the store
        Assert.True(long.Parse(Last(watcher, "backlog/age")!) >= 0);
        Assert.Equal("0", Last(watcher, "messages/forwarded"));
        Assert.Equal("0", Last(watcher, "connections/stomp"));
        Assert.False(string.IsNullOrEmpty(Last(watcher, "version")));

        // Local only: the store holds the three device messages and nothing of the gateway's own.
        Assert.Equal(3, await _gateway.MetricAsync("outbox_messages"));
        Assert.Equal(3, await _gateway.MetricAsync("outbox_appended_total"));
        _gateway.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task An_upstream_that_is_down_shows_in_its_link_state_and_the_backlog_age()
    {
        var deadEndpoint = $"amqp://guest:guest@127.0.0.1:{FreePort.Next()}/"; // nothing listens there
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", deadEndpoint).Route("sensors/#", "cloud")
            .Set("Gateway__Mqtt__SysTopicsInterval", "00:00:01").Build());
        await gateway.StartAsync();
        await using (var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "device"))
            await device.PublishAsync("sensors/a", "waiting");
        await using var watcher = await MqttTestClient.ConnectAsync(gateway.MqttPort, "watcher");
        await watcher.SubscribeAsync("$SYS/gateway/#");

        // The message waits for the upstream: the backlog's age grows past a second.
        await Poll.UntilAsync(() => Last(watcher, "backlog/age") is { } age && long.Parse(age) >= 2, Patience.Reaction, "a backlog two seconds old");
        Assert.Equal("disconnected", Last(watcher, "upstreams/cloud/state"));
        Assert.Equal("1", Last(watcher, "backlog/messages"));
        Assert.Equal("0", Last(watcher, "upstreams/cloud/forwarded"));
        Assert.Equal("0", Last(watcher, "messages/forwarded"));
    }

    [Fact]
    public async Task First_level_wildcards_never_match_SYS_topics()
    {
        // MQTT-4.7.2-1: "#" and "+/..." do not match topics that start with "$".
        await using var everything = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "everything", MqttProtocolVersion.V500);
        await everything.SubscribeAsync("#");
        await using var plusFirst = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "plus-first", MqttProtocolVersion.V500);
        await plusFirst.SubscribeAsync("+/gateway/uptime");
        await using var sys = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "sys", MqttProtocolVersion.V500);
        await sys.SubscribeAsync("$SYS/#");

        // A fresh (not retained) copy reached $SYS/# after the wildcard subscribers were in place...
        await Poll.UntilAsync(() => sys.Received.Any(m => !m.Retain && m.Topic == "$SYS/gateway/uptime"), Patience.Reaction, "a fresh $SYS message");
        // ...and a plain message after it reaches "#", so "#" has had its chance at the $SYS ones.
        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device"))
            await device.PublishAsync("x/gateway/uptime", "plain");
        await Poll.UntilAsync(() => everything.Received.Any(m => Text(m) == "plain") && plusFirst.Received.Any(m => Text(m) == "plain"), Patience.Reaction, "the plain message");

        Assert.DoesNotContain(everything.Received, m => m.Topic.StartsWith('$'));
        Assert.DoesNotContain(plusFirst.Received, m => m.Topic.StartsWith('$'));
    }

    [Fact]
    public async Task Mosquitto_sub_reads_the_retained_uptime()
    {
        if (!File.Exists("/usr/bin/mosquitto_sub")) throw new InvalidOperationException("mosquitto_sub is missing: install mosquitto-clients (./test.sh does)");
        var (exitCode, output) = await ChildProcesses.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), "-V", "mqttv5", "-i", "mosquitto-sys", "-t", "$SYS/gateway/uptime", "-C", "1", "-W", "30"],
            timeout: Patience.Reaction);
        Assert.True(exitCode == 0, $"mosquitto_sub: {output}");
        Assert.True(long.TryParse(output.Trim(), out var seconds) && seconds >= 0, $"uptime was '{output}'");
    }

    [Fact]
    public async Task A_client_may_not_publish_to_a_dollar_topic_and_nothing_of_it_is_stored()
    {
        await using var v5 = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "forger5", MqttProtocolVersion.V500);
        var refused = await v5.PublishAsync("$SYS/gateway/uptime", "0");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode); // 0x87, as any publish the gateway refuses
        Assert.True(v5.IsConnected);

        // MQTT 3.1.1 has no reason codes: no PUBACK, and the connection closed, as for other refusals.
        await using var v311 = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "forger311");
        await Assert.ThrowsAnyAsync<Exception>(() => v311.PublishAsync("$foo/bar", "x"));
        await Poll.UntilAsync(() => !v311.IsConnected, Patience.Reaction, "the 3.1.1 connection closed");

        Assert.Equal(0, await _gateway.MetricAsync("outbox_appended_total"));
        Assert.Equal(0, await _gateway.MetricAsync("mqtt_publishes_received_total"));
        Assert.Equal(2, await _gateway.MetricAsync("mqtt_publishes_refused_total"));
    }

    [Fact]
    public async Task SYS_topics_are_not_kept_in_the_retained_file_across_a_restart()
    {
        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device"))
            await device.PublishAsync("status/device", "online", retain: true);
        await using (var sys = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "sys"))
        {
            await sys.SubscribeAsync("$SYS/#");
            await Poll.UntilAsync(() => sys.Received.Any(m => !m.Retain), Patience.Reaction, "a fresh $SYS message");
        }
        await _gateway.StopAsync();

        await using var restarted = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__SysTopicsInterval"] = "00:00:00" }, _gateway.DataPath);
        await restarted.StartAsync();
        await using var after = await MqttTestClient.ConnectAsync(restarted.MqttPort, "after");
        // One SUBSCRIBE for both: the retained messages of both filters come with it.
        await after.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("status/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("$SYS/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        await Poll.UntilAsync(() => after.Received.Any(m => Text(m) == "online"), Patience.Reaction, "the device's retained status");
        Assert.DoesNotContain(after.Received, m => m.Topic.StartsWith('$'));
    }
}
