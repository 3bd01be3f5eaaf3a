using System.Collections.Concurrent;
using Prometheus;

namespace Gateway.Core.Diagnostics;

public sealed partial class GatewayMetrics
{
    private Series Create(MetricDefinition definition)
    {
        var name = Prefix + definition.Name;
        string[] labels = definition.Label is { } label ? [label] : [];
        Collector collector = definition.Kind switch
        {
            MetricKind.Counter => _factory.CreateCounter(name, definition.Help, labels),
            MetricKind.Gauge => _factory.CreateGauge(name, definition.Help, labels),
            _ => _factory.CreateHistogram(name, definition.Help, labels, new HistogramConfiguration { Buckets = DurationBuckets }),
        };
        return new Series(definition, collector);
    }

    /// <summary>A declared series and its children by label value, kept so a count does not look the label up in prometheus-net each time.</summary>
    private sealed class Series(MetricDefinition definition, Collector collector)
    {
        private readonly ConcurrentDictionary<string, ICollectorChild> _children = new(StringComparer.Ordinal);

        public MetricDefinition Definition { get; } = definition;

        public IEnumerable<ICollectorChild> Children => _children.Values;

        /// <summary>The child for <paramref name="label"/>; an unlabelled series is its own (the label, if any, is ignored).</summary>
        public ICollectorChild Child(string label)
        {
            if (Definition.Label is null) return (ICollectorChild)collector;
            return _children.TryGetValue(label, out var child) ? child : _children.GetOrAdd(label, NewChild);
        }

        private ICollectorChild NewChild(string label) => collector switch
        {
            Counter counter => counter.WithLabels(label),
            Gauge gauge => gauge.WithLabels(label),
            Histogram histogram => histogram.WithLabels(label),
            _ => throw new InvalidOperationException($"unexpected collector {collector.GetType()}"),
        };
    }
}
