using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using Prometheus;

namespace Gateway.Core.Diagnostics;

/// <summary>
/// The gateway's counters, gauges and histograms, kept by prometheus-net in a registry of their own
/// and rendered as Prometheus text at <c>/metrics</c>; tests read them back.
/// </summary>
/// <remarks>
/// Every series is declared in <see cref="MetricCatalog"/> with its HELP text, type and label, and is
/// created here at zero, so a scrape right after a restart shows every series. The callers name a
/// series and, for a labelled one, the label's value (the upstream, the route, the protocol): they
/// need not know the label's name. A series counted without being declared is still exported, with
/// a HELP text saying so, and <c>MetricCatalogTests</c> fails on it.
/// </remarks>
public sealed partial class GatewayMetrics
{
    private const string Prefix = "gateway_";

    /// <summary>The HELP text of a series counted without a declaration.</summary>
    public const string UndeclaredHelp = "Not declared in MetricCatalog.";

    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;
    private readonly FrozenDictionary<string, Series> _declared;
    private readonly ConcurrentDictionary<string, Series> _undeclared = new(StringComparer.Ordinal);

    /// <summary>Values read at scrape time (backlog, cursor, free disk), by series and label value.</summary>
    private readonly ConcurrentDictionary<(Series Series, string Label), Func<double>> _readings = new();

    /// <summary>
    /// Upper bounds, in seconds, of the histograms' buckets: from the half millisecond a group commit
    /// takes on a quick disk to the seconds a failing SD card can take for one fsync.
    /// </summary>
    public static readonly double[] DurationBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    public GatewayMetrics()
    {
        _factory = Metrics.WithCustomRegistry(_registry);
        // No exemplars: by default every count would look for a trace context to attach, a cost per
        // message (publishes arrive inside Kestrel's request activity over WebSocket) for nothing here.
        _factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _declared = MetricCatalog.All.ToFrozenDictionary(d => d.Name, Create, StringComparer.Ordinal);
        foreach (var series in _declared.Values)
        {
            foreach (var value in series.Definition.KnownValues ?? []) series.Child(value);
        }
        _registry.AddBeforeCollectCallback(ReadGauges);
    }

    /// <summary>
    /// Shows the labelled series at zero for every configured upstream and route, before anything is
    /// counted for them (a rate over a series that appears late misses its first counts).
    /// </summary>
    public void Prepare(IEnumerable<string> upstreams, IEnumerable<string> routes)
    {
        var byLabel = new Dictionary<string, string[]>
        {
            [MetricCatalog.UpstreamLabel] = upstreams.ToArray(),
            [MetricCatalog.RouteLabel] = [.. routes, MetricCatalog.NoRoute],
        };
        foreach (var series in _declared.Values)
        {
            if (series.Definition.Label is not { } label || !byLabel.TryGetValue(label, out var values)) continue;
            foreach (var value in values) series.Child(value);
        }
    }

    /// <summary>Adds the process's figures (CPU seconds, resident memory, threads, open handles, GC) from prometheus-net's collectors.</summary>
    public void IncludeProcessMetrics() => DotNetStats.Register(_registry);

    /// <summary>Exports <c>gateway_build_info{version,commit,runtime} 1</c>, the way Prometheus exporters tell their build.</summary>
    public void SetBuildInfo(string version, string commit, string runtime) =>
        _factory.CreateGauge(Prefix + MetricCatalog.BuildInfo, "The gateway's build: version, commit and .NET runtime (always 1).", ["version", "commit", "runtime"])
            .WithLabels(version, commit, runtime).Set(1);

    /// <summary>Adds <paramref name="by"/> to a counter, or to a gauge counted up and down (connections open).</summary>
    public void Increment(string name, string label = "", long by = 1)
    {
        var series = Find(name, MetricKind.Counter);
        if (series.Definition.Kind == MetricKind.Gauge) ((IGauge)series.Child(label)).Inc(by);
        else ((ICounter)series.Child(label)).Inc(by);
    }

    /// <summary>
    /// A counter's or gauge's value as last counted or set (not a value read at scrape time); 0 for one
    /// never counted. Without a label, a labelled series' total over its labels.
    /// </summary>
    public long Get(string name, string label = "")
    {
        var series = Find(name, MetricKind.Counter);
        if (label.Length == 0 && series.Definition.Label is not null) return series.Children.Sum(Read);
        return Read(series.Child(label));
    }

    private static long Read(ICollectorChild child) => child switch
    {
        ICounter counter => (long)counter.Value,
        IGauge gauge when !double.IsNaN(gauge.Value) => (long)gauge.Value,
        _ => 0,
    };

    /// <summary>
    /// Registers a value read at scrape time (backlog, cursor, current endpoint index). For a counter
    /// (a total kept elsewhere, such as seconds blocked), the value read must not decrease.
    /// </summary>
    public void Gauge(string name, string label, Func<double> read)
    {
        var series = Find(name, MetricKind.Gauge);
        series.Child(label);
        _readings[(series, label)] = read;
    }

    /// <summary>
    /// Counts a duration into the histogram <paramref name="name"/> (seconds, Prometheus style). Lock-free:
    /// the writer calls it per commit and fsync, pool threads per QoS 1/2 ack.
    /// </summary>
    public void Observe(string name, TimeSpan duration) =>
        ((IHistogram)Find(name, MetricKind.Histogram).Child("")).Observe(duration.TotalSeconds);

    /// <summary>Prometheus text exposition, every series with its HELP and TYPE lines.</summary>
    public string ToPrometheusText()
    {
        using var text = new MemoryStream();
        _registry.CollectAndExportAsTextAsync(text).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    /// <summary>Writes the exposition to <paramref name="output"/> (the <c>/metrics</c> response).</summary>
    public Task WriteAsync(Stream output, CancellationToken cancellationToken) =>
        _registry.CollectAndExportAsTextAsync(output, cancellationToken);

    /// <summary>How many durations the histogram holds at or below <paramref name="seconds"/> (a bucket's bound), and in all; for tests.</summary>
    public (long AtOrBelow, long Count) ReadHistogram(string name, double seconds)
    {
        if (Array.IndexOf(DurationBuckets, seconds) < 0)
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "not one of the bucket bounds");
        var bucket = $"{Prefix}{name}_bucket{{le=\"{seconds.ToString(CultureInfo.InvariantCulture)}\"}} ";
        var count = $"{Prefix}{name}_count ";
        long below = 0, all = 0;
        foreach (var line in ToPrometheusText().Split('\n'))
        {
            if (line.StartsWith(bucket, StringComparison.Ordinal)) below = (long)double.Parse(line[bucket.Length..], CultureInfo.InvariantCulture);
            else if (line.StartsWith(count, StringComparison.Ordinal)) all = (long)double.Parse(line[count.Length..], CultureInfo.InvariantCulture);
        }
        return (below, all);
    }

    private void ReadGauges()
    {
        foreach (var ((series, label), read) in _readings)
        {
            var value = read();
            switch (series.Child(label))
            {
                case IGauge gauge:
                    gauge.Set(value);
                    break;
                case ICounter counter when !double.IsNaN(value):
                    counter.IncTo(value);
                    break;
            }
        }
    }

    private Series Find(string name, MetricKind used) =>
        _declared.TryGetValue(name, out var series)
            ? series
            : _undeclared.GetOrAdd(name, static (n, state) => state.Self.Create(new MetricDefinition(n, state.Used, UndeclaredHelp, "name")), (Self: this, Used: used));
}
