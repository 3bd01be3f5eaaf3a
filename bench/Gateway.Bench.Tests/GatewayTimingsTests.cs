using Gateway.Bench;
using Gateway.Core.Diagnostics;

namespace Gateway.Bench.Tests;

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
        metrics.Increment("outbox_appended_total", "", 100);
        var after = GatewayTimings.Parse(metrics.ToPrometheusText());

        var fields = GatewayTimings.Fields(before, after).ToDictionary(f => f.Item1, f => Convert.ToDouble(f.Item2));

        Assert.Equal((98 * 1.5 + 3 + 30) / 100, fields["store_wait_mean_ms"], 6);
        // The 99th of 100 waits (3 ms) is in the bucket up to 5 ms; the 50 ms one before the load is not counted.
        Assert.Equal(5, fields["store_wait_p99_at_most_ms"], 6);
        Assert.Equal(4, fields["syncs"]);
        Assert.Equal(400, fields["sync_mean_us"], 6);
        Assert.Equal(0.5, fields["sync_p99_at_most_ms"], 6);
        Assert.Equal(25, fields["msgs_per_sync"], 6); // appended meanwhile (100) over fdatasyncs (4)
        Assert.Equal(4, fields["commits"]);
        Assert.Equal(100, fields["commit_mean_us"], 6);
    }

    [Fact]
    public void Messages_per_fsync_count_what_the_store_appended_not_what_the_client_was_told()
    {
        // QoS 0: the client counts 1,000 sent, but only 300 reached the store by the second reading.
        var metrics = new GatewayMetrics();
        metrics.Increment("outbox_appended_total", "", 700);
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.2));
        var before = GatewayTimings.Parse(metrics.ToPrometheusText());
        metrics.Increment("outbox_appended_total", "", 300);
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.2));
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.2));

        var fields = GatewayTimings.Fields(before, GatewayTimings.Parse(metrics.ToPrometheusText())).ToDictionary(f => f.Item1, f => Convert.ToDouble(f.Item2));

        Assert.Equal(150, fields["msgs_per_sync"], 6);
        Assert.False(fields.ContainsKey("store_wait_mean_ms")); // no QoS 1 ack waited
    }

    [Fact]
    public void A_server_without_the_histograms_adds_no_fields()
    {
        var text = "gateway_outbox_messages 3\ngateway_outbox_appended_total 10\n";
        Assert.Empty(GatewayTimings.Fields(GatewayTimings.Parse(text), GatewayTimings.Parse(text)));
    }
}
