using System.Globalization;
using System.Text;

namespace Gateway.Bench;

/// <summary>Turns the side-by-side run's RESULT lines into docs/benchmarks.md: figures, ratios, targets met or missed.</summary>
internal static class BenchReport
{
    public static int Write(Options o)
    {
        var resultsFile = o.Required("results");
        var output = o.Required("out");
        var machine = o.Required("machine");
        var command = o.Required("command");
        var notes = o.Optional("notes");
        o.RejectUnknown();

        var runs = File.ReadLines(resultsFile)
            .Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
            .Select(l => l[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : ""))
            .GroupBy(r => r["label"]).ToDictionary(g => g.Key, g => g.ToList());
        // A load run more than once (the script repeats the ingest loads in interleaved rounds, since one
        // run is at the mercy of the machine's noise) is represented by its median run.
        var results = runs.ToDictionary(kv => kv.Key, kv => MedianRun(kv.Value));

        double Get(string label, string key) =>
            results.TryGetValue(label, out var r) && r.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
        string F(double v, string format = "0") => double.IsNaN(v) ? "n/a" : v.ToString(format, CultureInfo.InvariantCulture);
        string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) || b == 0 ? "n/a" : (a / b).ToString("0.00", CultureInfo.InvariantCulture) + "×";
        // A target judged on loads that ran in rounds pairs each round's runs (they ran minutes apart, so
        // a slow spell of the machine touches both) and takes the median of the rounds' ratios.
        (double Ratio, string Shown) Paired(string label, string reference)
        {
            var (a, b) = (runs.GetValueOrDefault(label), runs.GetValueOrDefault(reference));
            var one = Get(label, "msgs_per_s") / Get(reference, "msgs_per_s");
            if (a is null || b is null || a.Count < 2 || a.Count != b.Count) return (one, Ratio(Get(label, "msgs_per_s"), Get(reference, "msgs_per_s")));
            var ratios = a.Zip(b, (x, y) => double.Parse(x["msgs_per_s"], CultureInfo.InvariantCulture) / double.Parse(y["msgs_per_s"], CultureInfo.InvariantCulture)).ToList();
            var median = ratios.Order().ElementAt((ratios.Count - 1) / 2);
            var each = string.Join(", ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)));
            return (median, $"{median.ToString("0.00", CultureInfo.InvariantCulture)}× (median of the rounds: {each}; median runs: {Ratio(Get(label, "msgs_per_s"), Get(reference, "msgs_per_s"))})");
        }
        string Verdict(bool? met) => met switch { true => "met", false => "**missed**", null => "n/a" };
        bool? AtLeast(double a, double b, double factor) => double.IsNaN(a) || double.IsNaN(b) ? null : a >= factor * b;
        bool? Below(double a, double limit) => double.IsNaN(a) ? null : a < limit;

        var md = new StringBuilder();
        md.AppendLine("# Benchmarks: the gateway side by side with Mosquitto, a bare MQTTnet server and RabbitMQ.Client");
        md.AppendLine();
        md.AppendLine("Produced by one run of the side-by-side script on one machine: every figure below comes from the same run,");
        md.AppendLine("so compare the ratios (the machine is shared and noisy) more than the absolute numbers.");
        md.AppendLine();
        md.AppendLine($"- Machine: {machine}");
        md.AppendLine($"- Command: `{command}`");
        md.AppendLine($"- Date: {File.GetLastWriteTimeUtc(resultsFile):yyyy-MM-dd HH:mm} UTC (when the run wrote its results)");
        md.AppendLine("- The load tool (`bench/Gateway.Bench`, `gateway-bench mqtt`) runs on the same 2 cores as the broker under test.");
        md.AppendLine("  Mosquitto runs with persistence off (it acknowledges before anything is written); the gateway");
        md.AppendLine("  acknowledges QoS 1 only after the commit is fsynced. It is measured twice: storing only (its upstream");
        md.AppendLine("  unreachable, so ingest has the cores to itself, as the references do), and forwarding to a local");
        md.AppendLine("  RabbitMQ node on the same 2 cores while it ingests.");
        md.AppendLine();
        md.AppendLine("## Ingest (256-byte payloads, flat out)");
        md.AppendLine();
        md.AppendLine("| load | gateway mode | Mosquitto | bare MQTTnet | gateway | gateway / MQTTnet | gateway / Mosquitto | gateway ack p50 / p99 / p99.9 (ms) |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, suffix) in new[] { ("QoS 1, 100 connections", "qos1-x100"), ("QoS 0, 100 connections", "qos0-x100"), ("QoS 1, 1 connection", "qos1-x1"), ("QoS 1, 100 connections, 4 in flight each", "qos1-x100-if4") })
        {
            var m = Get("mosquitto-" + suffix, "msgs_per_s");
            var b = Get("mqttnet-" + suffix, "msgs_per_s");
            foreach (var (mode, prefix) in new[] { ("storing only", "gateway-store-"), ("forwarding to RabbitMQ", "gateway-") })
            {
                if (!results.ContainsKey(prefix + suffix)) continue; // a load the script runs in one mode only
                var g = Get(prefix + suffix, "msgs_per_s");
                md.AppendLine($"| {name} | {mode} | {F(m)} | {F(b)} | {F(g)} | {Ratio(g, b)} | {Ratio(g, m)} | {F(Get(prefix + suffix, "ack_p50_ms"), "0.00")} / {F(Get(prefix + suffix, "ack_p99_ms"), "0.00")} / {F(Get(prefix + suffix, "ack_p999_ms"), "0.00")} |");
            }
        }
        var storeOnly = Get("gateway-backlog-fill", "msgs_per_s");
        md.AppendLine($"| QoS 1, 100 connections, filling the backlog | storing only | | | {F(storeOnly)} | {Ratio(storeOnly, Get("mqttnet-qos1-x100", "msgs_per_s"))} | {Ratio(storeOnly, Get("mosquitto-qos1-x100", "msgs_per_s"))} | {F(Get("gateway-backlog-fill", "ack_p50_ms"), "0.00")} / {F(Get("gateway-backlog-fill", "ack_p99_ms"), "0.00")} / {F(Get("gateway-backlog-fill", "ack_p999_ms"), "0.00")} |");
        md.AppendLine();
        var repeated = runs.Where(kv => kv.Value.Count > 1 && kv.Value.All(r => r.ContainsKey("msgs_per_s"))).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (repeated.Count > 0)
        {
            md.AppendLine("These loads ran more than once, in rounds interleaved across the brokers (each broker once per round);");
            md.AppendLine("the tables use the median run of each, and the ingest targets the median of the rounds' ratios (each");
            md.AppendLine("round's gateway run against the same round's bare MQTTnet run):");
            md.AppendLine();
            foreach (var (label, list) in repeated)
                md.AppendLine($"- `{label}`: {string.Join(", ", list.Select(r => r["msgs_per_s"]))} msgs/s");
            md.AppendLine();
        }
        md.AppendLine("\"Forwarding to RabbitMQ\" rows run with the gateway's forwarder and the RabbitMQ node taking their share of");
        md.AppendLine("the same 2 cores; Mosquitto and the bare MQTTnet server forward nothing. \"Storing only\" is the like-for-like");
        md.AppendLine("comparison: every message still committed and fsynced before its ack.");
        md.AppendLine();
        var accounted = new[]
        {
            ("QoS 1, 100 connections, storing only", "gateway-store-qos1-x100"),
            ("QoS 1, 100 connections, 4 in flight each, storing only", "gateway-store-qos1-x100-if4"),
            ("QoS 1, 1 connection, storing only", "gateway-store-qos1-x1"),
            ("QoS 1 at half rate, storing only", "gateway-store-half-rate"),
            ("QoS 0, 100 connections, storing only", "gateway-store-qos0-x100"),
            ("QoS 1, 100 connections, forwarding", "gateway-qos1-x100"),
            ("QoS 1 at half rate, forwarding", "gateway-half-rate"),
        }.Where(a => !double.IsNaN(Get(a.Item2, "syncs"))).ToList();
        if (accounted.Count > 0)
        {
            md.AppendLine("### Where an acknowledgement's time goes, by the gateway's own account");
            md.AppendLine();
            md.AppendLine("From the gateway's histograms at `/metrics`, read before and after each load (the median run of");
            md.AppendLine("each). The store wait runs from a QoS 1 publish being queued for the writer to its ack being released");
            md.AppendLine("in the connection's send loop: waiting behind the group being committed, the group's transaction in");
            md.AppendLine("LiteDB, the fdatasync, the hand-off back to a pool thread, and (with several in flight) the connection's");
            md.AppendLine("earlier acks. The rest of the round trip is the network, MQTTnet and the load tool, on the same 2 cores.");
            md.AppendLine("Messages per fdatasync count what the store appended (QoS 0 too). Percentiles from histograms are the");
            md.AppendLine("upper bound of their bucket (\"at most\").");
            md.AppendLine();
            md.AppendLine("| load | ack round trip, mean (ms) | store wait, mean (ms) | share of the round trip | store wait p99 at most (ms) | commit, mean (µs) | fdatasync, mean (µs) / p99 at most (ms) | messages per fdatasync |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var (name, label) in accounted)
            {
                var roundTrip = Get(label, "ack_mean_ms");
                var wait = Get(label, "store_wait_mean_ms");
                var share = double.IsNaN(roundTrip) || double.IsNaN(wait) || roundTrip == 0 ? "n/a" : (wait / roundTrip).ToString("0%", CultureInfo.InvariantCulture);
                md.AppendLine($"| {name} | {F(roundTrip, "0.00")} | {F(wait, "0.00")} | {share} | {F(Get(label, "store_wait_p99_at_most_ms"), "0.#")} | {F(Get(label, "commit_mean_us"))} | {F(Get(label, "sync_mean_us"))} / {F(Get(label, "sync_p99_at_most_ms"), "0.#")} | {F(Get(label, "msgs_per_sync"), "0.0")} |");
            }
            md.AppendLine();
        }
        md.AppendLine("## Forwarding to RabbitMQ");
        md.AppendLine();
        md.AppendLine("| measure | msgs/s | ratio to RabbitMQ.Client with confirms |");
        md.AppendLine("|---|---|---|");
        var direct = Get("rabbitmq-client-confirms", "msgs_per_s");
        // While the publishers ran: the whole run's rate (first arrival to last) takes in the drain after
        // they stopped, when the forwarder has the cores to itself. Results from before that field existed
        // have only the whole run's.
        var sustainedDuringLoad = Get("gateway-forward-sustained", "upstream_during_load_msgs_per_s");
        var sustainedWholeRun = Get("gateway-forward-sustained", "upstream_msgs_per_s");
        var sustained = double.IsNaN(sustainedDuringLoad) ? sustainedWholeRun : sustainedDuringLoad;
        var sustainedHow = double.IsNaN(sustainedDuringLoad)
            ? "rate of arrival in the queue from the first message to the last, the drain after the load included"
            : $"rate of arrival in the queue while they publish; {F(sustainedWholeRun)} msgs/s from the first arrival to the last, the drain after the load included";
        var drain = Get("gateway-backlog-drain", "msgs_per_s");
        md.AppendLine($"| RabbitMQ.Client, persistent, confirms, batches of 500, a consumer draining the queue meanwhile (the ceiling) | {F(direct)} | 1.00× |");
        md.AppendLine($"| gateway, sustained (forwarding while 100 connections publish QoS 1 flat out; {sustainedHow}) | {F(sustained)} | {Ratio(sustained, direct)} |");
        md.AppendLine($"| gateway, draining a backlog of {F(Get("gateway-backlog-drain", "expected"))} after a restart | {F(drain)} | {Ratio(drain, direct)} |");
        var sameProperties = Get("rabbitmq-client-confirms-gateway-properties", "msgs_per_s");
        md.AppendLine($"| RabbitMQ.Client as above, the same messages as the gateway forwards: its properties and headers (message id, timestamp, app id, 4 headers) and the routing keys of the load's 100 devices | {F(sameProperties)} | {Ratio(sameProperties, direct)} |");
        md.AppendLine();
        md.AppendLine($"The targets are judged against the first row. Against the last, the ceiling for the same messages, the gateway drains at {Ratio(drain, sameProperties)} and sustains {Ratio(sustained, sameProperties)}.");
        md.AppendLine();
        md.AppendLine($"End-to-end (publish to arrival in the queue) in the sustained run: p50 {F(Get("gateway-forward-sustained", "e2e_p50_ms"), "0.0")} ms, p99 {F(Get("gateway-forward-sustained", "e2e_p99_ms"), "0.0")} ms; acknowledged but missing upstream: {F(Get("gateway-forward-sustained", "upstream_missing"))}.");
        md.AppendLine();

        var max = Get("gateway-qos1-x100", "msgs_per_s");
        var half = Get("gateway-half-rate", "msgs_per_s");
        var halfP99 = Get("gateway-half-rate", "ack_p99_ms");
        var halfStore = Get("gateway-store-half-rate", "msgs_per_s");
        var halfStoreP99 = Get("gateway-store-half-rate", "ack_p99_ms");
        var bareQos1 = Get("mqttnet-qos1-x100", "msgs_per_s");
        var bareQos0 = Get("mqttnet-qos0-x100", "msgs_per_s");
        var fwdQos0 = Get("gateway-qos0-x100", "msgs_per_s");
        var idleRss = Get("gateway-rss-idle", "rss_mb");
        var connRss = Get("gateway-rss-10k", "rss_mb");
        var withIdle = Get("gateway-qos1-x100-with-10k-idle", "msgs_per_s");
        var accept = Get("gateway-restart", "accept_ms");
        var forward = Get("gateway-restart", "first_forward_ms");

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("Ingest targets are judged on the storing-only run (the like-for-like one); the same figure while forwarding");
        md.AppendLine("to a RabbitMQ node on the same cores is given beside it and judged too.");
        md.AppendLine();
        md.AppendLine("| target | measured | | while forwarding to RabbitMQ on the same cores | |");
        md.AppendLine("|---|---|---|---|---|");
        var qos1 = Paired("gateway-store-qos1-x100", "mqttnet-qos1-x100");
        var qos1Mosquitto = Paired("gateway-store-qos1-x100", "mosquitto-qos1-x100");
        var qos0 = Paired("gateway-store-qos0-x100", "mqttnet-qos0-x100");
        md.AppendLine($"| QoS 1 ingest, 100 connections ≥ 0.8× bare MQTTnet | {qos1.Shown}; {qos1Mosquitto.Ratio.ToString("0.00", CultureInfo.InvariantCulture)}× of Mosquitto | {Verdict(double.IsNaN(qos1.Ratio) ? null : qos1.Ratio >= 0.8)} | {Ratio(max, bareQos1)} | {Verdict(AtLeast(max, bareQos1, 0.8))} |");
        var pipelined = Paired("gateway-store-qos1-x100-if4", "mqttnet-qos1-x100-if4");
        if (!double.IsNaN(pipelined.Ratio))
            md.AppendLine($"| (not a target) QoS 1 ingest, 100 connections with 4 publishes in flight each, against bare MQTTnet under the same load | {pipelined.Shown} | | | |");
        var persistent = Paired("gateway-store-qos1-x100-persistent", "gateway-store-qos1-x100");
        md.AppendLine($"| QoS 1 ingest, 100 connections with persistent sessions ≥ 0.95× without | {persistent.Shown} | {Verdict(double.IsNaN(persistent.Ratio) ? null : persistent.Ratio >= 0.95)} | | |");
        var offlineSub = Paired("gateway-store-qos1-x100-persistent-offline-sub", "gateway-store-qos1-x100");
        if (!double.IsNaN(offlineSub.Ratio))
            md.AppendLine($"| (not a target) the same with an offline persistent QoS 1 subscriber to every device's topic (each message also queued for it) | {offlineSub.Shown} | | | |");
        var dashboard = Paired("gateway-store-qos1-x100-dashboard", "gateway-store-qos1-x100");
        if (!double.IsNaN(dashboard.Ratio))
            md.AppendLine($"| QoS 1 ingest, 100 connections with {F(Get("gateway-store-qos1-x100-dashboard", "dashboard_clients"))} status dashboards open (event streams) ≥ 0.97× without | {dashboard.Shown} | {Verdict(dashboard.Ratio >= 0.97)} | | |");
        md.AppendLine($"| QoS 0 ingest ≥ 0.9× bare MQTTnet | {qos0.Shown} | {Verdict(double.IsNaN(qos0.Ratio) ? null : qos0.Ratio >= 0.9)} | {Ratio(fwdQos0, bareQos0)} | {Verdict(AtLeast(fwdQos0, bareQos0, 0.9))} |");
        md.AppendLine($"| p99 PUBACK at half the maximum rate < 10 ms | {F(halfStoreP99, "0.00")} ms at {F(halfStore)} msgs/s | {Verdict(Below(halfStoreP99, 10))} | {F(halfP99, "0.00")} ms at {F(half)} msgs/s | {Verdict(Below(halfP99, 10))} |");
        md.AppendLine();
        md.AppendLine("| target | measured | |");
        md.AppendLine("|---|---|---|");
        md.AppendLine($"| forwarding, sustained ≥ 0.8× direct confirms | {Ratio(sustained, direct)} | {Verdict(AtLeast(sustained, direct, 0.8))} |");
        md.AppendLine($"| forwarding, draining the backlog ≥ 0.8× direct confirms | {Ratio(drain, direct)} | {Verdict(AtLeast(drain, direct, 0.8))} |");
        md.AppendLine($"| RSS idle < 80 MB | {F(idleRss, "0.0")} MB | {Verdict(Below(idleRss, 80))} |");
        md.AppendLine($"| RSS with 10,000 idle MQTT connections < 400 MB | {F(connRss, "0.0")} MB | {Verdict(Below(connRss, 400))} |");
        md.AppendLine($"| rate with 10,000 idle connections ≥ 0.8× without | {Ratio(withIdle, max)} ({F(withIdle)} msgs/s) | {Verdict(AtLeast(withIdle, max, 0.8))} |");
        md.AppendLine($"| restart with {F(Get("gateway-backlog-drain", "expected"))} buffered: accepting < 2 s | {F(accept)} ms | {Verdict(Below(accept, 2000))} |");
        md.AppendLine($"| restart with the backlog: forwarding < 5 s | {F(forward)} ms | {Verdict(Below(forward, 5000))} |");
        md.AppendLine();
        if (notes is not null && File.Exists(notes))
        {
            md.AppendLine(File.ReadAllText(notes).TrimEnd());
            md.AppendLine();
        }
        md.AppendLine("## Every figure of the run");
        md.AppendLine();
        md.AppendLine("```");
        foreach (var line in File.ReadLines(resultsFile).Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal))) md.AppendLine(line);
        md.AppendLine("```");
        File.WriteAllText(output, md.ToString());
        Report.Progress($"wrote {output}");
        return 0;
    }

    /// <summary>The run with the median rate (the lower of the two middle ones for an even count); the last one when there is no rate.</summary>
    private static Dictionary<string, string> MedianRun(List<Dictionary<string, string>> runs)
    {
        if (runs.Count == 1 || !runs.All(r => r.TryGetValue("msgs_per_s", out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            return runs[^1];
        var ordered = runs.OrderBy(r => double.Parse(r["msgs_per_s"], NumberStyles.Float, CultureInfo.InvariantCulture)).ToList();
        return ordered[(ordered.Count - 1) / 2];
    }
}
