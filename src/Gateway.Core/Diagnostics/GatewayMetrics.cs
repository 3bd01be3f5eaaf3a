using System.Collections.Concurrent;
using System.Text;

namespace Gateway.Core.Diagnostics;

/// <summary>
/// The gateway's counters and gauges, rendered as Prometheus text at <c>/metrics</c> and read by tests.
/// </summary>
/// <remarks>
/// Deliberately plain: an appliance is scraped by whatever the operator has, and every drop, refusal
/// and failover must be visible there without a metrics SDK on the device.
/// </remarks>
public sealed class GatewayMetrics
{
    private readonly ConcurrentDictionary<(string Name, string Label), StrongBox> _counters = new();
    private readonly ConcurrentDictionary<(string Name, string Label), Func<double>> _gauges = new();
    private readonly ConcurrentDictionary<string, Histogram> _histograms = new();

    /// <summary>
    /// Upper bounds, in seconds, of the histograms' buckets: from the half millisecond a group commit
    /// takes on a quick disk to the seconds a failing SD card can take for one fsync.
    /// </summary>
    public static readonly double[] DurationBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    public void Increment(string name, string label = "", long by = 1) =>
        Interlocked.Add(ref _counters.GetOrAdd((name, label), static _ => new StrongBox()).Value, by);

    public long Get(string name, string label = "") =>
        _counters.TryGetValue((name, label), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Registers a value read at scrape time (backlog, cursor, current endpoint index).</summary>
    public void Gauge(string name, string label, Func<double> read) => _gauges[(name, label)] = read;

    /// <summary>
    /// Counts a duration into the histogram <paramref name="name"/> (seconds, Prometheus style: cumulative
    /// buckets, a sum and a count). Lock-free: the writer calls it per commit and fsync, pool threads per QoS 1/2 ack.
    /// </summary>
    public void Observe(string name, TimeSpan duration) =>
        _histograms.GetOrAdd(name, static _ => new Histogram()).Add(duration);

    /// <summary>How many durations the histogram holds at or below <paramref name="seconds"/> (a bucket's bound), and in all; for tests.</summary>
    public (long AtOrBelow, long Count) ReadHistogram(string name, double seconds)
    {
        if (!_histograms.TryGetValue(name, out var histogram)) return (0, 0);
        var bucket = Array.IndexOf(DurationBuckets, seconds);
        if (bucket < 0) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "not one of the bucket bounds");
        long below = 0, count = 0;
        for (var i = 0; i < histogram.Buckets.Length; i++)
        {
            var n = Interlocked.Read(ref histogram.Buckets[i]);
            count += n;
            if (i <= bucket) below += n;
        }
        return (below, count);
    }

    /// <summary>Prometheus text exposition; the label, where there is one, is the upstream or route.</summary>
    public string ToPrometheusText()
    {
        var text = new StringBuilder();
        foreach (var ((name, label), box) in _counters.OrderBy(c => c.Key))
            Append(text, name, label, Interlocked.Read(ref box.Value));
        foreach (var ((name, label), read) in _gauges.OrderBy(g => g.Key))
            Append(text, name, label, read());
        foreach (var (name, histogram) in _histograms.OrderBy(h => h.Key))
            histogram.AppendTo(text, "gateway_" + name);
        return text.ToString();
    }

    private static void Append(StringBuilder text, string name, string label, double value)
    {
        text.Append("gateway_").Append(name);
        if (label.Length > 0) text.Append("{name=\"").Append(label.Replace("\"", "\\\"")).Append("\"}");
        text.Append(' ').Append(value.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
    }

    private sealed class StrongBox
    {
        public long Value;
    }

    private sealed class Histogram
    {
        /// <summary>Per bucket (not cumulative), the last one past every bound (+Inf).</summary>
        public readonly long[] Buckets = new long[DurationBuckets.Length + 1];
        private long _sumTicks;

        public void Add(TimeSpan duration)
        {
            var seconds = duration.TotalSeconds;
            var i = 0;
            while (i < DurationBuckets.Length && seconds > DurationBuckets[i]) i++;
            Interlocked.Increment(ref Buckets[i]);
            Interlocked.Add(ref _sumTicks, duration.Ticks);
        }

        public void AppendTo(StringBuilder text, string name)
        {
            var culture = System.Globalization.CultureInfo.InvariantCulture;
            text.Append("# TYPE ").Append(name).Append(" histogram\n");
            long cumulative = 0;
            for (var i = 0; i < Buckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref Buckets[i]);
                var bound = i < DurationBuckets.Length ? DurationBuckets[i].ToString(culture) : "+Inf";
                text.Append(name).Append("_bucket{le=\"").Append(bound).Append("\"} ").Append(cumulative.ToString(culture)).Append('\n');
            }
            text.Append(name).Append("_sum ").Append(TimeSpan.FromTicks(Interlocked.Read(ref _sumTicks)).TotalSeconds.ToString(culture)).Append('\n');
            // The count written is the buckets' total, so a scrape racing an Add never shows count < +Inf.
            text.Append(name).Append("_count ").Append(cumulative.ToString(culture)).Append('\n');
        }
    }
}
