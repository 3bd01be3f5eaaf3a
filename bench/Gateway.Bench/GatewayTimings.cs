using System.Globalization;

namespace Gateway.Bench;

/// <summary>
/// The gateway's own account of a load (<c>--metrics URL</c>): its disk histograms and counters at
/// <c>/metrics</c> read before and after, so a result says how much of a PUBACK's round trip was the
/// store, how long commits and fsyncs took, and how many messages shared each fsync.
/// </summary>
internal static class GatewayTimings
{
    /// <summary>One histogram as scraped: cumulative counts per upper bound (the last +Inf), and the sum in seconds.</summary>
    internal sealed record Histogram(double[] Bounds, long[] Cumulative, double Sum)
    {
        public long Count => Cumulative.Length == 0 ? 0 : Cumulative[^1];

        public double MeanMs => Count == 0 ? double.NaN : Sum / Count * 1000;

        /// <summary>The upper bound of the bucket holding the q-quantile, in ms (+Inf past the last bound): "at most".</summary>
        public double QuantileAtMostMs(double q)
        {
            if (Count == 0) return double.NaN;
            var rank = (long)Math.Ceiling(q * Count);
            for (var i = 0; i < Cumulative.Length; i++)
                if (Cumulative[i] >= rank) return Bounds[i] * 1000;
            return double.PositiveInfinity;
        }

        /// <summary>What was counted between <paramref name="before"/> and this scrape.</summary>
        public Histogram Since(Histogram? before)
        {
            if (before is null) return this;
            if (!before.Bounds.SequenceEqual(Bounds)) throw new InvalidDataException("the histogram's buckets changed between two scrapes");
            return new Histogram(Bounds, Cumulative.Zip(before.Cumulative, (a, b) => a - b).ToArray(), Sum - before.Sum);
        }
    }

    /// <summary>One reading of <c>/metrics</c>: its histograms and its unlabelled counters and gauges, by name without <c>gateway_</c>.</summary>
    internal sealed record Scrape(Dictionary<string, Histogram> Histograms, Dictionary<string, double> Values);

    /// <summary>The <c>gateway_*</c> histograms and unlabelled values in Prometheus text.</summary>
    public static Scrape Parse(string text)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        var buckets = new Dictionary<string, List<(double Bound, long Count)>>(StringComparer.Ordinal);
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (!line.StartsWith("gateway_", StringComparison.Ordinal)) continue;
            var space = line.LastIndexOf(' ');
            if (space < 0) continue;
            var key = line[..space];
            var value = line[(space + 1)..];
            const string bucketTag = "_bucket{le=\"";
            var at = key.IndexOf(bucketTag, StringComparison.Ordinal);
            if (at > 0 && key.EndsWith("\"}", StringComparison.Ordinal))
            {
                var bound = key[(at + bucketTag.Length)..^2];
                var name = key["gateway_".Length..at];
                var upper = bound == "+Inf" ? double.PositiveInfinity : double.Parse(bound, CultureInfo.InvariantCulture);
                if (!buckets.TryGetValue(name, out var list)) buckets[name] = list = [];
                list.Add((upper, long.Parse(value, CultureInfo.InvariantCulture)));
            }
            else if (key.EndsWith("_sum", StringComparison.Ordinal))
            {
                sums[key["gateway_".Length..^"_sum".Length]] = double.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (!key.Contains('{') && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                values[key["gateway_".Length..]] = number;
            }
        }
        var histograms = buckets.Where(b => sums.ContainsKey(b.Key)).ToDictionary(
            b => b.Key,
            b => new Histogram([.. b.Value.Select(x => x.Bound)], [.. b.Value.Select(x => x.Count)], sums[b.Key]),
            StringComparer.Ordinal);
        return new Scrape(histograms, values);
    }

    /// <summary>A reading of the gateway's metrics; null, with a warning, when it cannot be read (the load's own figures still count).</summary>
    public static async Task<Scrape?> ScrapeAsync(HttpClient http, string url)
    {
        try
        {
            return Parse(await http.GetStringAsync(url));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException)
        {
            Report.Progress($"warning: could not read the gateway's metrics at {url} ({ex.Message}); the result goes without its timings");
            return null;
        }
    }

    /// <summary>RESULT fields for a load from two scrapes; none for histograms the gateway did not report.</summary>
    /// <remarks>
    /// Messages per fsync count what the store appended meanwhile (<c>outbox_appended_total</c>), not
    /// what the client had acknowledged: a QoS 0 publish is "done" once written to the socket, and may
    /// still be queued for the store at the second reading.
    /// </remarks>
    public static List<(string, object)> Fields(Scrape before, Scrape after)
    {
        Histogram? Delta(string name) => after.Histograms.TryGetValue(name, out var h) ? h.Since(before.Histograms.GetValueOrDefault(name)) : null;
        var fields = new List<(string, object)>();
        if (Delta("mqtt_ack_store_wait_seconds") is { Count: > 0 } wait)
            fields.AddRange([("store_wait_mean_ms", wait.MeanMs), ("store_wait_p99_at_most_ms", wait.QuantileAtMostMs(0.99))]);
        if (Delta("outbox_commit_seconds") is { Count: > 0 } commit)
            fields.AddRange([("commits", commit.Count), ("commit_mean_us", commit.MeanMs * 1000)]);
        if (Delta("outbox_sync_seconds") is { Count: > 0 } sync)
        {
            fields.AddRange([("syncs", sync.Count), ("sync_mean_us", sync.MeanMs * 1000), ("sync_p99_at_most_ms", sync.QuantileAtMostMs(0.99))]);
            if (after.Values.TryGetValue("outbox_appended_total", out var appended))
                fields.Add(("msgs_per_sync", (appended - before.Values.GetValueOrDefault("outbox_appended_total")) / sync.Count));
        }
        return fields;
    }
}
