using Gateway.Bench;
using Gateway.Core.Diagnostics;

namespace Gateway.UnitTests.Bench;

/// <summary>The load tool reads the gateway's own /metrics text: the two must agree on the format.</summary>
public sealed class GatewayTimingsTests
{
    [Fact]
    public void A_load_gets_the_gateway_s_timings_counted_between_two_scrapes()
    {
        var metrics = new GatewayMetrics();
        metrics.Increment("outbox_appended_total", "", 5);
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.2)); // before the load: not its own
        metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(50));
        var before = GatewayTimings.Parse(metrics.ToPrometheusText());

        for (var i = 0; i < 98; i++) metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(1.5));
        metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(3));
        metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(30));
        for (var i = 0; i < 4; i++) metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.4));
        for (var i = 0; i < 4; i++) metrics.Observe("outbox_commit_seconds", TimeSpan.FromMilliseconds(0.1));
        var after = GatewayTimings.Parse(metrics.ToPrometheusText());

        var fields = GatewayTimings.Fields(before, after, acknowledged: 100).ToDictionary(f => f.Item1, f => Convert.ToDouble(f.Item2));

        Assert.Equal((98 * 1.5 + 3 + 30) / 100, fields["store_wait_mean_ms"], 6);
        // The 99th of 100 waits (3 ms) is in the bucket up to 5 ms; the 50 ms one before the load is not counted.
        Assert.Equal(5, fields["store_wait_p99_at_most_ms"], 6);
        Assert.Equal(4, fields["syncs"]);
        Assert.Equal(0.4, fields["sync_mean_ms"], 6);
        Assert.Equal(0.5, fields["sync_p99_at_most_ms"], 6);
        Assert.Equal(25, fields["msgs_per_sync"], 6);
        Assert.Equal(4, fields["commits"]);
        Assert.Equal(0.1, fields["commit_mean_ms"], 6);
    }

    [Fact]
    public void A_server_without_the_histograms_adds_no_fields()
    {
        var text = "gateway_outbox_messages 3\ngateway_outbox_appended_total 10\n";
        Assert.Empty(GatewayTimings.Fields(GatewayTimings.Parse(text), GatewayTimings.Parse(text), 10));
    }
}
