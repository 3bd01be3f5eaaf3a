using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Core.Diagnostics;

namespace Gateway.UnitTests.Diagnostics;

/// <summary>
/// The declarations in <see cref="MetricCatalog"/> against the code that counts, the exposition, the
/// docs and the Grafana dashboard: a series added on one branch and not declared fails here at merge.
/// </summary>
public sealed partial class MetricCatalogTests
{
    private static readonly HashSet<string> Declared = MetricCatalog.All.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex("""\.(?:Increment|Gauge|Observe|Get|ReadHistogram)\(\s*"(?<name>[a-z0-9_]+)"\s*[,)]""")]
    private static partial Regex MetricCall();

    private static DirectoryInfo Repository()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Gateway.sln"))) folder = folder.Parent;
        Assert.NotNull(folder);
        return folder;
    }

    [Fact]
    public void Every_series_the_sources_count_or_read_is_declared()
    {
        var used = new Dictionary<string, string>(StringComparer.Ordinal);
        var sources = Directory.EnumerateFiles(Path.Combine(Repository().FullName, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        foreach (var file in sources)
        {
            foreach (Match m in MetricCall().Matches(File.ReadAllText(file))) used.TryAdd(m.Groups["name"].Value, Path.GetFileName(file));
        }

        Assert.True(used.Count > 40, $"the scan found only {used.Count} names: it no longer sees the calls");
        var undeclared = used.Where(u => !Declared.Contains(u.Key)).Select(u => $"{u.Key} ({u.Value})").ToList();
        Assert.True(undeclared.Count == 0, "declare these in MetricCatalog (name, HELP, label): " + string.Join(", ", undeclared));
    }

    [Fact]
    public void Every_declaration_has_its_unit_or_total_in_its_name_a_known_label_and_help()
    {
        string?[] labels = [null, MetricCatalog.UpstreamLabel, MetricCatalog.RouteLabel, MetricCatalog.ProtocolLabel, MetricCatalog.ReasonLabel];
        Assert.Equal(MetricCatalog.All.Count, Declared.Count); // no name twice
        Assert.All(MetricCatalog.All, d =>
        {
            Assert.Matches("^[a-z][a-z0-9_]*$", d.Name);
            if (d.Kind == MetricKind.Counter) Assert.EndsWith("_total", d.Name);
            if (d.Kind == MetricKind.Histogram) Assert.EndsWith("_seconds", d.Name);
            if (d.Kind == MetricKind.Gauge) Assert.False(d.Name.EndsWith("_total", StringComparison.Ordinal), $"{d.Name}: a gauge named like a counter");
            Assert.Contains(d.Label, labels);
            Assert.EndsWith(".", d.Help);
        });
    }

    [Fact]
    public void A_new_registry_shows_every_declared_series_with_HELP_and_TYPE_and_the_fixed_labels_at_zero()
    {
        var text = new GatewayMetrics().ToPrometheusText();
        var lines = text.Split('\n');

        foreach (var d in MetricCatalog.All)
        {
            var type = d.Kind.ToString().ToLowerInvariant();
            Assert.Contains(lines, l => l.StartsWith($"# HELP gateway_{d.Name} {d.Help}", StringComparison.Ordinal));
            Assert.Contains($"# TYPE gateway_{d.Name} {type}", lines);
            if (d.Label is null && d.Kind != MetricKind.Histogram) Assert.Contains($"gateway_{d.Name} 0", lines);
        }
        foreach (var protocol in MetricCatalog.Protocols) Assert.Contains($"gateway_connections_open{{protocol=\"{protocol}\"}} 0", lines);
        Assert.Contains("gateway_stomp_disconnects_total{reason=\"SlowConsumer\"} 0", lines);
    }

    [Fact]
    public void Prepared_upstreams_and_routes_show_at_zero_before_anything_is_counted_for_them()
    {
        var metrics = new GatewayMetrics();
        metrics.Prepare(["cloud", "mq"], ["sensors/#"]);
        var lines = metrics.ToPrometheusText().Split('\n');

        Assert.Contains("gateway_messages_forwarded_total{upstream=\"cloud\"} 0", lines);
        Assert.Contains("gateway_upstream_failures_total{upstream=\"mq\"} 0", lines);
        Assert.Contains("gateway_messages_stored_total{route=\"sensors/#\"} 0", lines);
        Assert.Contains($"gateway_messages_refused_disk_total{{route=\"{MetricCatalog.NoRoute}\"}} 0", lines);
    }

    [Fact]
    public void Counts_land_on_their_label_and_a_labelled_series_read_without_one_is_its_total()
    {
        var metrics = new GatewayMetrics();
        metrics.Increment("messages_refused_disk_total", "a/#", 2);
        metrics.Increment("messages_refused_disk_total", "b/#", 3);
        metrics.Increment("connections_open", "mqtt", 2);
        metrics.Increment("connections_open", "mqtt", -1); // a gauge counts down

        Assert.Equal(2, metrics.Get("messages_refused_disk_total", "a/#"));
        Assert.Equal(5, metrics.Get("messages_refused_disk_total"));
        Assert.Equal(1, metrics.Get("connections_open", "mqtt"));
        Assert.Contains("gateway_messages_refused_disk_total{route=\"b/#\"} 3", metrics.ToPrometheusText().Split('\n'));
    }

    [Fact]
    public void A_value_read_at_scrape_time_may_be_NaN_and_a_total_read_so_follows_its_source()
    {
        var metrics = new GatewayMetrics();
        var blocked = 1.5;
        metrics.Gauge("outbox_disk_free_bytes", "", () => double.NaN);
        metrics.Gauge("upstream_blocked_seconds_total", "cloud", () => blocked);
        Assert.Contains("gateway_upstream_blocked_seconds_total{upstream=\"cloud\"} 1.5", metrics.ToPrometheusText().Split('\n'));
        blocked = 4;

        var lines = metrics.ToPrometheusText().Split('\n');
        Assert.Contains("gateway_outbox_disk_free_bytes NaN", lines);
        Assert.Contains("gateway_upstream_blocked_seconds_total{upstream=\"cloud\"} 4", lines);
    }

    [Fact]
    public void A_series_counted_without_a_declaration_is_still_exported_and_says_so()
    {
        var metrics = new GatewayMetrics();
        metrics.Increment("made_up_total", "x");

        Assert.Equal(1, metrics.Get("made_up_total", "x"));
        Assert.Contains($"# HELP gateway_made_up_total {GatewayMetrics.UndeclaredHelp}", metrics.ToPrometheusText().Split('\n'));
    }

    [Fact]
    public void The_monitoring_page_describes_every_declared_series()
    {
        var page = File.ReadAllText(Path.Combine(Repository().FullName, "docs", "monitoring.md"));
        var missing = MetricCatalog.All.Where(d => !page.Contains($"`gateway_{d.Name}`", StringComparison.Ordinal)).Select(d => d.Name).ToList();
        Assert.True(missing.Count == 0, "docs/monitoring.md lacks rows for: " + string.Join(", ", missing));
    }

    [GeneratedRegex("""\b(?<name>(?:gateway|process|dotnet)_[a-z0-9_]+)""")]
    private static partial Regex MetricName();

    [Fact]
    public void The_Grafana_dashboard_is_valid_JSON_and_queries_only_declared_series()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository().FullName, "docs", "grafana-dashboard.json")));
        var queries = new List<string>();
        Collect(dashboard.RootElement, queries);
        Assert.True(queries.Count >= 10, $"only {queries.Count} queries found");

        // prometheus-net's process collectors; the gateway's own series come from the catalog.
        string[] process = ["process_cpu_seconds_total", "process_working_set_bytes", "process_open_handles", "process_num_threads",
            "dotnet_collection_count_total", "dotnet_total_memory_bytes", "process_start_time_seconds"];
        var unknown = queries.SelectMany(q => MetricName().Matches(q).Select(m => m.Groups["name"].Value))
            .Where(n => !process.Contains(n) && !Declared.Contains(Series(n)) && n != "gateway_" + MetricCatalog.BuildInfo)
            .Distinct().ToList();
        Assert.True(unknown.Count == 0, "the dashboard queries series nobody declares: " + string.Join(", ", unknown));
    }

    /// <summary>The declared name behind a sample's name: without the prefix, and without a histogram's suffixes.</summary>
    private static string Series(string sample)
    {
        var name = sample.StartsWith("gateway_", StringComparison.Ordinal) ? sample["gateway_".Length..] : sample;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && Declared.Contains(name[..^suffix.Length])) return name[..^suffix.Length];
        }
        return name;
    }

    private static void Collect(JsonElement element, List<string> queries)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String) queries.Add(property.Value.GetString()!);
                    else Collect(property.Value, queries);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) Collect(item, queries);
                break;
        }
    }
}
