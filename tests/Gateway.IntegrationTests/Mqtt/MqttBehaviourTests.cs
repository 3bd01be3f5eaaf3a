using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>MQTT as the spec says, through the real gateway process: retained, wills, sessions, QoS 2, refusals.</summary>
public sealed class MqttBehaviourTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload);

    [Fact]
    public async Task A_retained_message_reaches_later_subscribers_and_survives_a_restart()
    {
        await using (var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "dev"))
        {
            Assert.True((await device.PublishAsync("status/dev", "online", retain: true)).IsSuccess);
        }

        await using (var late = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "late"))
        {
            await late.SubscribeAsync("status/#");
            await Poll.UntilAsync(() => late.Received.Any(m => Text(m) == "online" && m.Retain), Patience.Reaction, "the retained message");
        }

        await _gateway.StopAsync();
        Assert.Equal(0, _gateway.ExitCode); // SIGTERM is a clean stop
        Assert.Contains("closed with", _gateway.Output);
        await _gateway.StartAsync();
        await using var afterRestart = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "after");
        await afterRestart.SubscribeAsync("status/#");
        await Poll.UntilAsync(() => afterRestart.Received.Any(m => Text(m) == "online" && m.Retain), Patience.Reaction, "the retained message after restart");
    }

    [Fact]
    public async Task A_will_is_published_when_a_device_drops_off_without_disconnecting()
    {
        await using var watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "watcher");
        await watcher.SubscribeAsync("wills/#");
        var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "fragile", configure: o => o
            .WithWillTopic("wills/fragile").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(5)));

        device.Client.Dispose(); // the socket closes with no DISCONNECT: an abnormal end, so the will goes out
        await Poll.UntilAsync(() => watcher.Received.Any(m => Text(m) == "gone"), Patience.Reaction, "the will message");
        Assert.True(await _gateway.MetricAsync("outbox_messages") >= 1); // and it went through the store like any publish
    }

    [Fact]
    public async Task A_persistent_session_receives_what_was_published_while_it_was_away()
    {
        await using (var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false)))
        {
            await subscriber.SubscribeAsync("orders/#");
        }

        await using (var publisher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "pub"))
        {
            await publisher.PublishSequenceAsync("orders/1", "pub", 5);
        }

        await using var back = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "keeper", configure: o => o.WithCleanSession(false));
        await Poll.UntilAsync(() => back.Received.Count >= 5, Patience.Reaction, "the queued messages");
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"pub:{i}"), back.Received.Select(Text));
    }

    [Fact]
    public async Task QoS2_and_QoS0_publishes_are_stored_and_delivered()
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("q/#", MqttQualityOfServiceLevel.ExactlyOnce);
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "dev", MqttProtocolVersion.V500);

        Assert.True((await device.PublishAsync("q/two", "exactly", MqttQualityOfServiceLevel.ExactlyOnce)).IsSuccess);
        await device.PublishAsync("q/zero", "at-most", MqttQualityOfServiceLevel.AtMostOnce);

        await Poll.UntilAsync(() => subscriber.Received.Count >= 2, Patience.Reaction, "both messages");
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("outbox_messages") == 2, Patience.Reaction, "both stored");
    }
}

/// <summary>With routes configured and <c>Unrouted=Reject</c>, a publish no route takes is refused the MQTT way.</summary>
public sealed class UnroutedRefusalTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        // The upstream is never reached (nothing listens there): refusals happen at ingest, before any forwarding.
        _gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", $"amqp://127.0.0.1:{FreePort.Next()}/")
            .Route("sensors/#", "cloud")
            .Set("Gateway__Unrouted", "Reject")
            .Build());
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task An_MQTT5_client_gets_a_reason_code_and_stays_connected()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "dev5", MqttProtocolVersion.V500);
        var result = await device.PublishAsync("elsewhere/x", "1");
        Assert.Equal(MQTTnet.MqttClientPublishReasonCode.ImplementationSpecificError, result.ReasonCode);
        Assert.Contains("no route", result.ReasonString);
        Assert.True((await device.PublishAsync("sensors/x", "2")).IsSuccess);
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        Assert.Equal(1, await _gateway.MetricAsync("messages_unrouted_total"));
    }

    [Fact]
    public async Task An_MQTT311_client_gets_no_puback_and_is_disconnected()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "dev3", MqttProtocolVersion.V311);
        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync("elsewhere/x", "1"));
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the disconnect");
        Assert.Equal(0, await _gateway.MetricAsync("outbox_messages"));
    }
}
