namespace Gateway.IntegrationTests.Faults;

public sealed class StallDetectionTests
{
    [Fact]
    public async Task A_link_that_is_connected_but_confirms_nothing_is_torn_down_counted_and_reconnected()
    {
        await using var silent = new SilentStompBroker();
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("mq", silent.Uri).Set("Gateway__Upstreams__mq__Kind", "ActiveMq")
            .Set("Gateway__Upstreams__mq__ConfirmTimeout", "00:00:01")
            .Route("plant/#", "mq").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await device.PublishSequenceAsync("plant/dev/temp", "dev", 5);

        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_stalls_total", "mq") >= 2, TimeSpan.FromSeconds(30), "two stalls to be detected");
        Assert.True(silent.Connections >= 2, "the stalled link was not reconnected");
        Assert.True(silent.Commits >= 2, "the batch was not sent again on the new link");
        Assert.Equal(5, await gateway.MetricAsync("outbox_messages")); // nothing unconfirmed left the store
        Assert.Contains("no confirm for a batch of 5 within 1 s; restarting the link", gateway.Output);
    }
}
