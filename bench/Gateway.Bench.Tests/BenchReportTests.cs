using Gateway.Bench;

namespace Gateway.Bench.Tests;

/// <summary>docs/benchmarks.md's sustained forwarding row, from the load tool's RESULT lines.</summary>
public sealed class BenchReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bench-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Report(string sustainedFields, params string[] more)
    {
        var results = Path.Combine(_dir, "results.txt");
        File.WriteAllLines(results,
        [
            "RESULT label=rabbitmq-client-confirms msgs_per_s=20000",
            $"RESULT label=gateway-forward-sustained msgs_per_s=17000 {sustainedFields}",
            .. more,
        ]);
        var output = Path.Combine(_dir, "benchmarks.md");
        var exit = BenchReport.Write(new Options(["--results", results, "--out", output, "--machine", "test machine", "--command", "test command"]));
        Assert.Equal(0, exit);
        return File.ReadAllText(output);
    }

    private static string Line(string markdown, string startsWith) =>
        markdown.Split('\n').Single(l => l.StartsWith(startsWith, StringComparison.Ordinal));

    [Fact]
    public void Sustained_forwarding_is_judged_on_what_arrived_while_the_load_ran()
    {
        var md = Report("upstream_msgs_per_s=17000 upstream_during_load_msgs_per_s=15000");

        var row = Line(md, "| gateway, sustained");
        Assert.Contains("while they publish; 17000 msgs/s from the first arrival to the last", row);
        Assert.EndsWith("| 15000 | 0.75× |", row.TrimEnd());
        Assert.Contains("| forwarding, sustained ≥ 0.8× direct confirms | 0.75× | **missed** |", md);
    }

    [Fact]
    public void Results_from_before_the_during_load_rate_fall_back_to_the_whole_run_and_say_so()
    {
        // Older results have no during-load field; the load tool prints "-" when nothing arrived during the load.
        foreach (var fields in new[] { "upstream_msgs_per_s=16500", "upstream_msgs_per_s=16500 upstream_during_load_msgs_per_s=-" })
        {
            var md = Report(fields);

            var row = Line(md, "| gateway, sustained");
            Assert.Contains("from the first message to the last, the drain after the load included", row);
            Assert.EndsWith("| 16500 | 0.83× |", row.TrimEnd());
            Assert.Contains("| forwarding, sustained ≥ 0.8× direct confirms | 0.83× | met |", md);
        }
    }

    [Theory]
    [InlineData(9600, "met")]
    [InlineData(9400, "**missed**")]
    public void Persistent_sessions_are_judged_round_by_round_against_the_same_rounds_without(int persistentRate, string verdict)
    {
        // Round 2 is slow for both: paired per round, its ratio is 0.96 like round 1's, not 9600/5000.
        var md = Report("upstream_msgs_per_s=17000",
            "RESULT label=gateway-store-qos1-x100 msgs_per_s=10000",
            $"RESULT label=gateway-store-qos1-x100-persistent msgs_per_s={persistentRate}",
            "RESULT label=gateway-store-qos1-x100 msgs_per_s=5000",
            $"RESULT label=gateway-store-qos1-x100-persistent msgs_per_s={persistentRate / 2}");

        var row = Line(md, "| QoS 1 ingest, 100 connections with persistent sessions");
        Assert.Contains($"{persistentRate / 10000.0:0.00}× (median of the rounds", row);
        Assert.Contains($"| {verdict} |", row);
    }
}
