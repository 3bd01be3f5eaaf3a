using System.Globalization;

namespace Gateway.Bench;

/// <summary><c>--name value</c> options; every unknown or malformed one is an error naming it.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public Options(IEnumerable<string> args)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var name = e.Current;
            if (!name.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"expected an option (--name value), got '{name}'");
            if (!e.MoveNext()) throw new UsageException($"option {name} needs a value");
            _values[name[2..]] = e.Current;
        }
    }

    public string Text(string name, string fallback) => Optional(name) ?? fallback;

    public string? Optional(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public string Required(string name) => Optional(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int fallback)
    {
        var text = Optional(name);
        if (text is null) return fallback;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new UsageException($"--{name} must be a non-negative integer (was '{text}')");
    }

    public double Seconds(string name, double fallback)
    {
        var text = Optional(name);
        if (text is null) return fallback;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new UsageException($"--{name} must be a positive number of seconds (was '{text}')");
    }

    /// <summary>Fails on any option that was given but never asked for (a typo).</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option(s): {string.Join(", ", unknown.Select(k => "--" + k))}");
    }
}

internal sealed class UsageException(string message) : Exception(message);

/// <summary>Latency samples in Stopwatch ticks, reported as percentiles in milliseconds.</summary>
internal sealed class Latencies
{
    private readonly List<long> _ticks = [];

    public int Count
    {
        get
        {
            lock (_ticks) return _ticks.Count;
        }
    }

    public void Add(long ticks)
    {
        lock (_ticks) _ticks.Add(ticks);
    }

    public void AddRange(IEnumerable<long> ticks)
    {
        lock (_ticks) _ticks.AddRange(ticks);
    }

    public (double P50, double P99, double P999, double Max) Percentiles()
    {
        long[] sorted;
        lock (_ticks) sorted = [.. _ticks];
        if (sorted.Length == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        Array.Sort(sorted);
        double At(double q) => Ms(sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))]);
        return (At(0.50), At(0.99), At(0.999), Ms(sorted[^1]));
    }

    public double MeanMs()
    {
        lock (_ticks) return _ticks.Count == 0 ? double.NaN : Ms((long)_ticks.Average());
    }

    public static double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
}

/// <summary>One line per result: readable, and <c>RESULT key=value ...</c> for scripts.</summary>
internal static class Report
{
    public static void Result(string label, params (string Key, object Value)[] values)
    {
        string Format(object v) => v switch
        {
            double d => double.IsNaN(d) ? "-" : d.ToString(d >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture),
            _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
        };
        Console.WriteLine($"RESULT label={label} " + string.Join(' ', values.Select(v => $"{v.Key}={Format(v.Value)}")));
    }

    public static void Progress(string text) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {text}");
}
