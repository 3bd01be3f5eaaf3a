using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Operators;

/// <summary>
/// <c>/healthz</c> (alive) and <c>/readyz</c> (taking messages) of the real gateway process, state by
/// state: normal, an upstream down, the disk guard active, the store at its quota.
/// </summary>
public sealed class HealthTests
{
    private static JsonElement Json(string body) => JsonDocument.Parse(body).RootElement;

    [Fact]
    public async Task A_gateway_with_its_listeners_up_and_room_to_store_is_alive_and_ready()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings().Build());
        await gateway.StartAsync();

        var (liveStatus, live) = await gateway.GetWithStatusAsync("/healthz");
        var (readyStatus, ready) = await gateway.GetWithStatusAsync("/readyz");

        Assert.Equal(200, liveStatus);
        Assert.Equal("ok", Json(live).GetProperty("status").GetString());
        Assert.Equal(["mqtt:True", "http:True", "stomp:True"],
            Json(live).GetProperty("listeners").EnumerateArray().Select(l => $"{l.GetProperty("name").GetString()}:{l.GetProperty("alive").GetBoolean()}"));
        Assert.Equal(200, readyStatus);
        Assert.Equal("ready", Json(ready).GetProperty("status").GetString());
        Assert.Empty(Json(ready).GetProperty("reasons").EnumerateArray());
        Assert.True(Json(ready).GetProperty("store").GetProperty("accepting").GetBoolean());
    }

    [Fact]
    public async Task An_upstream_that_is_down_is_reported_with_how_long_and_leaves_the_gateway_ready()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", $"amqp://127.0.0.1:{FreePort.Next()}/") // nobody listens
            .Route("sensors/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
        await device.PublishSequenceAsync("sensors/a", "dev", 3);

        // The metric first: /readyz rounds to a tenth, so its 1.0 may be 0.96 s, which the raw metric read after it still shows.
        await Poll.UntilAsync(async () => await gateway.MetricAsync("upstream_down_seconds", "cloud") >= 1, Patience.Reaction, "the upstream to be down a second");
        var (status, body) = await gateway.GetWithStatusAsync("/readyz");

        Assert.Equal(200, status);
        var cloud = Json(body).GetProperty("upstreams")[0];
        Assert.Equal("cloud", cloud.GetProperty("name").GetString());
        Assert.False(cloud.GetProperty("connected").GetBoolean());
        Assert.True(cloud.GetProperty("downSeconds").GetDouble() >= 1, "/readyz says how long the upstream has been down");
        Assert.Equal(3, cloud.GetProperty("backlog").GetInt64());
        Assert.Equal(200, (await gateway.GetWithStatusAsync("/healthz")).Status);
        Assert.Equal(3, await gateway.MetricAsync("upstream_backlog_messages", "cloud"));
        Assert.True(await gateway.MetricAsync("upstream_oldest_message_age_seconds", "cloud") > 0);
        Assert.True(double.IsNaN(await gateway.MetricAsync("upstream_drain_eta_seconds", "cloud")), "nothing drains while the link is down");
    }

    [Fact]
    public async Task With_the_disk_guard_active_the_gateway_is_alive_but_not_ready_and_says_why()
    {
        // A watermark above any disk's free space: the first message finds the guard refusing.
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Outbox__MinFreeDiskBytes", (1L << 50).ToString()).Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);
        Assert.Equal(200, (await gateway.GetWithStatusAsync("/readyz")).Status); // nothing refused yet

        var refused = await device.PublishAsync("sensors/a", "x");

        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, refused.ReasonCode);
        var (status, body) = await gateway.GetWithStatusAsync("/readyz");
        Assert.Equal(503, status);
        Assert.Equal("not-ready", Json(body).GetProperty("status").GetString());
        Assert.Contains("below its free-space watermark", Json(body).GetProperty("reasons")[0].GetString());
        Assert.True(Json(body).GetProperty("store").GetProperty("diskGuard").GetBoolean());
        Assert.Equal(200, (await gateway.GetWithStatusAsync("/healthz")).Status);
        Assert.Equal(1, await gateway.MetricAsync("messages_refused_disk_total", "(no route)"));
    }

    [Fact]
    public async Task A_store_at_its_quota_under_RejectNew_leaves_the_gateway_alive_but_not_ready()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Outbox__MaxMessages", "3").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);

        await device.PublishSequenceAsync("sensors/a", "dev", 2);
        Assert.Equal(200, (await gateway.GetWithStatusAsync("/readyz")).Status);
        await device.PublishSequenceAsync("sensors/a", "dev", 1, start: 2);

        var (status, body) = await gateway.GetWithStatusAsync("/readyz");
        Assert.Equal(503, status);
        Assert.Equal(["the store is at its quota and rejects new messages"], Json(body).GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(200, (await gateway.GetWithStatusAsync("/healthz")).Status);
    }
}
