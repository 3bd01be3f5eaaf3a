using Gateway.Core.Diagnostics;

namespace Gateway.UnitTests.Diagnostics;

public sealed class GatewayMetricsTests
{
    [Fact]
    public void A_histogram_is_rendered_with_cumulative_buckets_a_sum_and_a_count()
    {
        var metrics = new GatewayMetrics();
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(0.3));
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(1)); // on a bound: counted in it (le)
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromMilliseconds(30));
        metrics.Observe("outbox_sync_seconds", TimeSpan.FromSeconds(9)); // past every bound

        var lines = metrics.ToPrometheusText().Split('\n');

        Assert.Contains("# TYPE gateway_outbox_sync_seconds histogram", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"0.0005\"} 1", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"0.001\"} 2", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"0.02\"} 2", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"0.05\"} 3", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"5\"} 3", lines);
        Assert.Contains("gateway_outbox_sync_seconds_bucket{le=\"+Inf\"} 4", lines);
        Assert.Contains("gateway_outbox_sync_seconds_count 4", lines);
        var sum = lines.Single(l => l.StartsWith("gateway_outbox_sync_seconds_sum ", StringComparison.Ordinal));
        Assert.Equal(9.0313, double.Parse(sum.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), 6);
        // Every bound once, in order, then +Inf.
        var bounds = lines.Where(l => l.StartsWith("gateway_outbox_sync_seconds_bucket", StringComparison.Ordinal)).ToList();
        Assert.Equal(GatewayMetrics.DurationBuckets.Length + 1, bounds.Count);
    }

    [Fact]
    public void ReadHistogram_counts_at_or_below_a_bound_and_refuses_a_value_that_is_not_one()
    {
        var metrics = new GatewayMetrics();
        Assert.Equal((0, 0), metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.01));
        metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(4));
        metrics.Observe("mqtt_ack_store_wait_seconds", TimeSpan.FromMilliseconds(400));

        Assert.Equal((1, 2), metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.01));
        Assert.Equal((2, 2), metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => metrics.ReadHistogram("mqtt_ack_store_wait_seconds", 0.3));
    }
}
