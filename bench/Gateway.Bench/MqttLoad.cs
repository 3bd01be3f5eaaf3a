using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.Bench;

/// <summary>
/// Drives an MQTT broker: N connections publishing at a total rate or flat out for a duration.
/// QoS 1/2 publishes are awaited one at a time per connection, as a simple device does, or up to
/// <c>--in-flight</c> at a time (a device flushing a queue of its own); the ack latency of each is
/// recorded. Optionally consumes what the broker forwarded upstream and checks every
/// acknowledged message arrived.
/// </summary>
internal static class MqttLoad
{
    private static bool maxMessagesGiven(Options o) => o.Optional("messages") is not null;

    public static async Task<int> RunAsync(Options o)
    {
        var host = o.Text("host", "127.0.0.1");
        var port = o.Int("port", 1883);
        var connections = Math.Max(1, o.Int("connections", 100));
        var inflight = o.Int("in-flight", 1); // publishes each connection has awaiting their acks at once
        var qos = (MqttQualityOfServiceLevel)o.Int("qos", 1);
        var payloadBytes = Math.Max(16, o.Int("payload", 256));
        var rate = o.Int("rate", 0); // total msgs/s; 0 = flat out
        var duration = TimeSpan.FromSeconds(o.Seconds("duration", maxMessagesGiven(o) ? 3600 : 10));
        var maxMessages = o.Int("messages", 0); // 0 = no cap: the duration decides
        var topicPrefix = o.Text("topic", "bench");
        var label = o.Text("label", $"mqtt qos{(int)qos} x{connections}");
        var version = o.Text("mqtt", "5") == "3" ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;
        var consumer = UpstreamConsumer.FromOptions(o);
        var drainTimeout = TimeSpan.FromSeconds(o.Seconds("drain-timeout", 120));
        var metricsUrl = o.Optional("metrics"); // the gateway's /metrics: its own timings of the load go into the result
        // Persistent sessions: each connection keeps its session (3.1.1 clean session off, 5.0 an hour's expiry)
        // under an id of its own. An offline subscriber: one persistent session subscribed at QoS 1 to the
        // filter, then gone, so the broker queues for it (bounded per session) while the load runs.
        var persistent = o.Text("persistent", "no") == "yes";
        var offlineSubscriber = o.Optional("offline-subscriber");
        // Open dashboards: streams of the gateway's /api/status/events kept open through the load.
        var dashboard = o.Optional("dashboard");
        var dashboardClients = dashboard is null ? 0 : o.Int("dashboard-clients", 10);
        o.RejectUnknown();
        if ((int)qos > 2) throw new UsageException("--qos must be 0, 1 or 2");
        if (inflight is < 1 or > 255) throw new UsageException("--in-flight must be 1 to 255");

        if (consumer is not null) await consumer.StartAsync();

        var factory = new MqttClientFactory();
        if (offlineSubscriber is not null) await LeaveOfflineSubscriberAsync(factory, host, port, version, offlineSubscriber);
        Report.Progress($"{label}: connecting {connections} clients to {host}:{port}{(persistent ? " with persistent sessions" : "")}");
        var clients = new IMqttClient[connections];
        await Parallel.ForEachAsync(Enumerable.Range(0, connections), new ParallelOptions { MaxDegreeOfParallelism = 50 }, async (i, ct) =>
        {
            clients[i] = factory.CreateMqttClient();
            await clients[i].ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer(host, port).WithClientId(persistent ? $"bench-persistent-{i}" : $"bench-{Environment.ProcessId}-{i}").WithProtocolVersion(version)
                .WithCleanSession(!persistent).WithSessionExpiryInterval(persistent ? 3600u : 0u)
                .WithTimeout(TimeSpan.FromSeconds(30)).WithKeepAlivePeriod(TimeSpan.FromSeconds(60)).Build(), ct);
        });

        await using var watchers = dashboard is null ? null : await DashboardWatchers.StartAsync(dashboard, dashboardClients);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metricsBefore = metricsUrl is null ? null : await GatewayTimings.ScrapeAsync(http, metricsUrl);
        var latencies = new Latencies();
        var acked = new ConcurrentBag<long>();
        long sent = 0, ok = 0, refused = 0, failed = 0, claimed = 0;
        var stop = Stopwatch.StartNew();
        var publishers = connections * inflight;
        var perPublisherInterval = rate > 0 ? TimeSpan.FromSeconds(publishers / (double)rate) : TimeSpan.Zero;
        using var progress = new Timer(_ => Report.Progress($"{label}: {stop.Elapsed.TotalSeconds:0}s sent {Interlocked.Read(ref sent)} acked {Interlocked.Read(ref ok)} refused {Interlocked.Read(ref refused)}"),
            null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

        // Each publisher is one of a connection's in-flight slots: it awaits its own ack, then publishes again.
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            var c = p % connections;
            var slot = p / connections;
            var client = clients[c];
            var topic = $"{topicPrefix}/c{c}";
            var payload = new byte[payloadBytes];
            var mine = new List<long>();
            var myAcked = new List<long>();
            for (long n = 0; stop.Elapsed < duration; n++)
            {
                if (rate > 0)
                {
                    // Spread the connections over the interval; catch up when late rather than drift.
                    var due = perPublisherInterval * n + perPublisherInterval * p / publishers - stop.Elapsed;
                    if (due > TimeSpan.Zero) await Task.Delay(due);
                    if (stop.Elapsed >= duration) break;
                }
                if (maxMessages > 0 && Interlocked.Increment(ref claimed) > maxMessages) break;
                var id = ((long)c << 40) | ((long)slot << 32) | n;
                BinaryPrimitives.WriteInt64LittleEndian(payload, id);
                var started = Stopwatch.GetTimestamp();
                BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), started);
                Interlocked.Increment(ref sent);
                try
                {
                    var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build());
                    if (result.IsSuccess)
                    {
                        Interlocked.Increment(ref ok);
                        if (qos != MqttQualityOfServiceLevel.AtMostOnce) mine.Add(Stopwatch.GetTimestamp() - started);
                        myAcked.Add(id);
                    }
                    else
                    {
                        Interlocked.Increment(ref refused);
                    }
                }
                catch (Exception) when (!client.IsConnected)
                {
                    Interlocked.Increment(ref failed);
                    return; // the broker dropped us (MQTT 3.1.1 refusal): stop this connection
                }
            }
            latencies.AddRange(mine);
            foreach (var id in myAcked) acked.Add(id);
        })));
        var elapsed = stop.Elapsed;
        consumer?.MarkLoadEnded();
        progress.Change(Timeout.Infinite, Timeout.Infinite);
        var snapshotsSeen = watchers?.Snapshots ?? 0;
        var metricsAfter = metricsUrl is null ? null : await GatewayTimings.ScrapeAsync(http, metricsUrl);

        var (p50, p99, p999, max) = latencies.Percentiles();
        var throughput = Interlocked.Read(ref ok) / elapsed.TotalSeconds;
        Report.Progress($"{label}: {ok} acknowledged in {elapsed.TotalSeconds:0.0} s = {throughput:0} msgs/s; ack latency p50 {p50:0.00} ms p99 {p99:0.00} ms p99.9 {p999:0.00} ms");
        var results = new List<(string, object)>
        {
            ("connections", connections), ("persistent", persistent ? "yes" : "no"), ("offline_subscriber", offlineSubscriber ?? "-"), ("in_flight", inflight), ("qos", (int)qos), ("payload", payloadBytes), ("rate", rate), ("seconds", elapsed.TotalSeconds),
            ("sent", sent), ("acked", ok), ("refused", refused), ("failed", failed), ("msgs_per_s", throughput),
            ("dashboard_clients", dashboardClients), ("dashboard_snapshots", snapshotsSeen),
            ("ack_p50_ms", p50), ("ack_p99_ms", p99), ("ack_p999_ms", p999), ("ack_max_ms", max), ("ack_mean_ms", latencies.MeanMs()),
        };
        if (metricsBefore is not null && metricsAfter is not null)
        {
            var timings = GatewayTimings.Fields(metricsBefore, metricsAfter);
            results.AddRange(timings);
            Report.Progress($"{label}: the gateway's account: {string.Join(' ', timings.Select(t => $"{t.Item1}={t.Item2:0.###}"))}");
        }

        if (consumer is not null)
        {
            Report.Progress($"{label}: waiting for {acked.Count} acknowledged messages upstream (at most {drainTimeout.TotalSeconds:0} s)");
            var e2e = await consumer.WaitForAsync(acked.ToHashSet(), drainTimeout);
            results.AddRange([("upstream_received", e2e.Received), ("upstream_missing", e2e.Missing), ("upstream_msgs_per_s", e2e.Rate),
                ("upstream_during_load_msgs_per_s", e2e.RateDuringLoad), ("e2e_p50_ms", e2e.P50), ("e2e_p99_ms", e2e.P99), ("e2e_p999_ms", e2e.P999)]);
            Report.Progress($"{label}: upstream got {e2e.Received}, missing {e2e.Missing}, {e2e.Rate:0} msgs/s from first arrival to last, " +
                $"{e2e.RateDuringLoad:0} msgs/s while the load ran, end-to-end p50 {e2e.P50:0.0} ms p99 {e2e.P99:0.0} ms");
            await consumer.DisposeAsync();
        }
        Report.Result(label, [.. results]);
        // Its session would go on queueing every later load's messages: end it (a clean start discards it).
        if (offlineSubscriber is not null) await EndOfflineSubscriberAsync(factory, host, port, version);

        await Task.WhenAll(clients.Select(async c =>
        {
            try { if (c.IsConnected) await c.DisconnectAsync(); } catch (Exception) { /* gone */ }
            c.Dispose();
        }));
        return results.Any(r => r.Item1 == "upstream_missing" && Convert.ToInt64(r.Item2) > 0) ? 3 : 0;
    }

    /// <summary>A subscriber with a persistent session that subscribes at QoS 1 and disconnects: the broker keeps queueing for it.</summary>
    private static async Task LeaveOfflineSubscriberAsync(MqttClientFactory factory, string host, int port, MqttProtocolVersion version, string filter)
    {
        using var subscriber = factory.CreateMqttClient();
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId("bench-offline-subscriber")
            .WithProtocolVersion(version).WithCleanSession(false).WithSessionExpiryInterval(3600).Build());
        await subscriber.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        await subscriber.DisconnectAsync();
        Report.Progress($"a subscriber with a persistent session subscribed to {filter} at QoS 1 and went offline");
    }

    private static async Task EndOfflineSubscriberAsync(MqttClientFactory factory, string host, int port, MqttProtocolVersion version)
    {
        using var subscriber = factory.CreateMqttClient();
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId("bench-offline-subscriber")
            .WithProtocolVersion(version).WithCleanSession(true).Build());
        await subscriber.DisconnectAsync();
    }
}
