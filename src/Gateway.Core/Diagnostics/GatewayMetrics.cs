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

    public void Increment(string name, string label = "", long by = 1) =>
        Interlocked.Add(ref _counters.GetOrAdd((name, label), static _ => new StrongBox()).Value, by);

    public long Get(string name, string label = "") =>
        _counters.TryGetValue((name, label), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Registers a value read at scrape time (backlog, cursor, current endpoint index).</summary>
    public void Gauge(string name, string label, Func<double> read) => _gauges[(name, label)] = read;

    /// <summary>Prometheus text exposition; the label, where there is one, is the upstream or route.</summary>
    public string ToPrometheusText()
    {
        var text = new StringBuilder();
        foreach (var ((name, label), box) in _counters.OrderBy(c => c.Key))
            Append(text, name, label, Interlocked.Read(ref box.Value));
        foreach (var ((name, label), read) in _gauges.OrderBy(g => g.Key))
            Append(text, name, label, read());
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
}
