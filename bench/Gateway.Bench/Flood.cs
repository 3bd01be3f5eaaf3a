using System.Diagnostics;
using System.Globalization;
using System.Net;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.Bench;

/// <summary>
/// <c>gateway-bench flood</c>: well-behaved clients publish QoS 1 at a steady rate before, during and
/// after a flood (connects, half-open sockets, slow WebSocket handshakes), while the gateway's RSS is
/// sampled from /proc; reports their ack latency in each phase, and the RSS idle, at its peak and after.
/// </summary>
internal static class Flood
{
    private const int Before = 0, During = 1, After = 2, WarmUp = 3;

    public static async Task<int> RunAsync(Options o)
    {
        var host = o.Text("host", "127.0.0.1");
        var port = o.Int("port", 1883);
        var httpPort = o.Int("http-port", 8080);
        var pid = o.Int("pid", 0);
        var clients = o.Int("clients", 10);
        var rate = o.Int("rate", 20);
        var phase = TimeSpan.FromSeconds(o.Seconds("phase", 10));
        var hold = TimeSpan.FromSeconds(o.Seconds("hold", 15));
        var warmUp = TimeSpan.FromSeconds(o.Seconds("warm-up", 5));
        var settle = TimeSpan.FromSeconds(o.Seconds("settle", 30));
        var connects = o.Int("connects", 5000);
        var parallel = o.Int("parallel", 100);
        var halfOpen = o.Int("half-open", 1000);
        var slow = o.Int("slow-handshakes", 20);
        var sources = o.Int("sources", 1);
        o.RejectUnknown();
        if (pid == 0) throw new UsageException("--pid (the gateway's process id, for its RSS) is required");

        using var rss = new RssSampler(pid);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var idleMb = rss.CurrentMb;
        Report.Progress($"idle RSS {idleMb:0.0} MB; {clients} clients publishing QoS 1 at {rate}/s each");

        // The warm-up's latencies (JIT, first commits) are recorded nowhere that is reported.
        var latencies = new[] { new Latencies(), new Latencies(), new Latencies(), new Latencies() };
        var current = WarmUp;
        using var stop = new CancellationTokenSource();
        var publishers = await StartPublishersAsync(host, port, clients, rate, () => latencies[Volatile.Read(ref current)], stop.Token);
        await Task.Delay(warmUp);
        Volatile.Write(ref current, Before);
        await Task.Delay(phase);
        var beforeMb = rss.CurrentMb;

        Volatile.Write(ref current, During);
        var mqtt = new IPEndPoint(IPAddress.Parse(host), port);
        var http = new IPEndPoint(IPAddress.Parse(host), httpPort);
        Report.Progress($"flood: {connects} connects ({parallel} at a time), {halfOpen} half-open sockets and {slow} slow WebSocket handshakes held {hold.TotalSeconds:0} s, from {sources} address(es) each");
        var clock = Stopwatch.StartNew();
        var connecting = FloodAttacks.ConnectsAsync(mqtt, FloodAttacks.Addresses(IPAddress.Parse("127.0.1.1"), sources), connects, parallel);
        var halfOpening = FloodAttacks.HoldAsync(mqtt, FloodAttacks.Addresses(IPAddress.Parse("127.0.2.1"), sources), halfOpen, hold);
        var dribbling = FloodAttacks.HoldAsync(http, FloodAttacks.Addresses(IPAddress.Parse("127.0.3.1"), sources), slow, hold, FloodAttacks.SlowHandshake, TimeSpan.FromSeconds(1));
        var connected = await connecting;
        var connectSeconds = clock.Elapsed.TotalSeconds;
        var halfOpened = await halfOpening;
        var dribbled = await dribbling;
        var floodSeconds = clock.Elapsed.TotalSeconds;

        var floodEndMb = rss.CurrentMb;
        Volatile.Write(ref current, After);
        await Task.Delay(phase);
        // RSS after: once the flood's sockets are long gone and the runtime has had time to give memory back.
        await Task.Delay(settle);
        var afterMb = rss.CurrentMb;
        await stop.CancelAsync();
        await Task.WhenAll(publishers);

        var (b50, b99, _, _) = latencies[Before].Percentiles();
        var (d50, d99, _, dMax) = latencies[During].Percentiles();
        var (a50, a99, _, _) = latencies[After].Percentiles();
        Report.Progress($"connects: {connected}; half-open: {halfOpened}; slow handshakes: {dribbled}");
        var limits = await LimitsAsync(host, httpPort);
        Report.Result("flood", [
            ("clients", clients), ("rate_per_client", rate), ("connects", connects), ("connect_seconds", connectSeconds),
            ("accepted", connected.Accepted), ("refused", connected.Refused), ("failed", connected.Failed),
            ("half_open", halfOpened.Opened), ("half_open_closed", halfOpened.ClosedByGateway), ("half_open_still_open", halfOpened.StillOpen),
            ("slow_handshakes", dribbled.Opened), ("slow_closed", dribbled.ClosedByGateway), ("flood_seconds", floodSeconds),
            ("before_acks", latencies[Before].Count), ("before_p50_ms", b50), ("before_p99_ms", b99),
            ("during_acks", latencies[During].Count), ("during_p50_ms", d50), ("during_p99_ms", d99), ("during_max_ms", dMax),
            ("after_acks", latencies[After].Count), ("after_p50_ms", a50), ("after_p99_ms", a99), ("p99_during_over_before", d99 / b99),
            ("rss_idle_mb", idleMb), ("rss_before_mb", beforeMb), ("rss_peak_mb", rss.PeakMb), ("rss_flood_end_mb", floodEndMb),
            ("rss_after_mb", afterMb), ("settle_seconds", phase.TotalSeconds + settle.TotalSeconds), .. limits]);
        return 0;
    }

    /// <summary>Each client publishes one QoS 1 message every 1/<paramref name="rate"/> s and records its ack's latency where <paramref name="phase"/> says.</summary>
    private static async Task<Task[]> StartPublishersAsync(string host, int port, int count, int rate, Func<Latencies> phase, CancellationToken stop)
    {
        var factory = new MqttClientFactory();
        var tasks = new Task[count];
        for (var i = 0; i < count; i++)
        {
            var client = factory.CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId($"flood-sensor-{i}")
                .WithProtocolVersion(MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(30)).Build());
            var topic = $"sensors/s{i}/value";
            tasks[i] = Task.Run(async () =>
            {
                using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / rate));
                var payload = new byte[64];
                try
                {
                    while (await ticker.WaitForNextTickAsync(stop))
                    {
                        var start = Stopwatch.GetTimestamp();
                        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), stop);
                        if (result.IsSuccess) phase().Add(Stopwatch.GetTimestamp() - start);
                    }
                }
                catch (OperationCanceledException)
                {
                    // the run is over
                }
                await client.DisconnectAsync();
                client.Dispose();
            }, CancellationToken.None);
        }
        return tasks;
    }

    /// <summary>The gateway's own count of each limit met, from /metrics, as <c>limit_&lt;reason&gt;</c> fields.</summary>
    private static async Task<(string, object)[]> LimitsAsync(string host, int httpPort)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await client.GetStringAsync($"http://{host}:{httpPort}/metrics");
        const string prefix = "gateway_limits_exceeded_total{reason=\"";
        return [.. text.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l =>
        {
            var end = l.IndexOf('"', prefix.Length);
            return ("limit_" + l[prefix.Length..end], (object)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        })];
    }

    /// <summary>The gateway's resident memory (VmRSS) read every 100 ms: now and at its peak.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly string _status;
        private readonly Timer _timer;
        private double _peakMb;

        public RssSampler(int pid)
        {
            _status = $"/proc/{pid}/status";
            _peakMb = CurrentMb;
            _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));
        }

        public double PeakMb => Volatile.Read(ref _peakMb);

        public double CurrentMb
        {
            get
            {
                var line = File.ReadLines(_status).First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        private void Sample()
        {
            var now = CurrentMb;
            double peak;
            while (now > (peak = Volatile.Read(ref _peakMb)) && Interlocked.CompareExchange(ref _peakMb, now, peak) != peak)
            {
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
