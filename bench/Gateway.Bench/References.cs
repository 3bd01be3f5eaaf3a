using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using MQTTnet;
using MQTTnet.Server;
using RabbitMQ.Client;

namespace Gateway.Bench;

/// <summary>The side-by-side references: what the gateway is measured against.</summary>
internal static class References
{
    /// <summary>A bare MQTTnet server: no storage, no interceptor. The ceiling of MQTT ingest with the same library.</summary>
    public static async Task<int> ServerAsync(Options o)
    {
        var port = o.Int("port", 1884);
        var address = o.Text("bind", "127.0.0.1");
        o.RejectUnknown();
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Parse(address)).WithDefaultEndpointPort(port).Build());
        await server.StartAsync();
        Report.Progress($"bare MQTTnet server listening on {address}:{port}; Ctrl+C or SIGTERM stops it");
        using var stopping = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopping.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stopping.Cancel();
        try { await Task.Delay(Timeout.Infinite, stopping.Token); } catch (OperationCanceledException) { }
        await server.StopAsync();
        return 0;
    }

    /// <summary>
    /// RabbitMQ.Client publishing persistent messages with confirms, in batches like the gateway's
    /// forwarder (publish a batch pipelined, wait for its confirms): the ceiling of forwarding.
    /// </summary>
    public static async Task<int> AmqpPublishAsync(Options o)
    {
        var uri = o.Required("uri");
        var exchange = o.Text("exchange", "amq.topic");
        var routingKey = o.Text("routing-key", "bench.direct");
        var messages = o.Int("messages", 100_000);
        var payloadBytes = Math.Max(16, o.Int("payload", 256));
        var batch = Math.Max(1, o.Int("batch", 500));
        // Batches published before the oldest one's confirms are awaited: 1 waits for each batch
        // before the next; 2 publishes the next while the broker confirms the one before. With more
        // than 1, a batch's confirm time also counts the wait behind the batches before it.
        var inFlight = o.Int("in-flight", 1);
        if (inFlight < 1) throw new UsageException($"--in-flight must be 1 or more, not {inFlight}");
        var label = o.Text("label", "amqp confirms");
        // plain: persistent, nothing else. gateway: the properties and headers the gateway's forwarder
        // sets on each message (message id, timestamp, app id, x-mqtt-topic, x-mqtt-qos,
        // x-gateway-client-id, x-gateway-seq), built per message as it does: the ceiling for the same messages.
        var properties = o.Text("properties", "plain");
        if (properties is not ("plain" or "gateway")) throw new UsageException($"--properties must be plain or gateway, not '{properties}'");
        var gatewayProperties = properties == "gateway";
        // 1: every message with --routing-key. N > 1: <routing-key>.c<i mod N>, the keys the gateway
        // forwards a load of N devices with (topics bench/c0 ... bench/cN-1 become bench.c0 ...).
        var keys = o.Int("keys", 1);
        if (keys < 1) throw new UsageException($"--keys must be 1 or more, not {keys}");
        var routingKeys = keys == 1 ? [routingKey] : Enumerable.Range(0, keys).Select(k => $"{routingKey}.c{k}").ToArray();
        o.RejectUnknown();

        var factory = new ConnectionFactory { Uri = new Uri(uri) };
        await using var connection = await factory.CreateConnectionAsync();
        // RabbitMQ.Client 7: confirms tracked by the library; each awaited publish completes on its confirm.
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var props = new BasicProperties { Persistent = true };
        var payload = new byte[payloadBytes];
        var latencies = new Latencies();
        var outstanding = new Queue<(Task Confirmed, long Started, int Through)>();
        var stop = Stopwatch.StartNew();
        for (var sent = 0; sent < messages || outstanding.Count > 0;)
        {
            if (sent < messages && outstanding.Count < inFlight)
            {
                var count = Math.Min(batch, messages - sent);
                var started = Stopwatch.GetTimestamp();
                var confirms = new List<Task>(count);
                for (var i = 0; i < count; i++, sent++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(payload, sent);
                    BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), Stopwatch.GetTimestamp());
                    var these = gatewayProperties ? GatewayLikeProperties(sent, sent % keys) : props;
                    confirms.Add(channel.BasicPublishAsync(exchange, routingKeys[sent % keys], mandatory: true, these, payload).AsTask());
                }
                outstanding.Enqueue((Task.WhenAll(confirms), started, sent));
                continue;
            }
            var (confirmed, since, through) = outstanding.Dequeue();
            await confirmed;
            latencies.Add(Stopwatch.GetTimestamp() - since);
            if (through % 50_000 < batch) Report.Progress($"{label}: {through} confirmed");
        }
        var elapsed = stop.Elapsed;
        var (p50, p99, _, _) = latencies.Percentiles();
        Report.Progress($"{label}: {messages} confirmed in {elapsed.TotalSeconds:0.0} s = {messages / elapsed.TotalSeconds:0} msgs/s");
        Report.Result(label, ("messages", messages), ("batch", batch), ("in_flight", inFlight), ("payload", payloadBytes), ("seconds", elapsed.TotalSeconds),
            ("msgs_per_s", messages / elapsed.TotalSeconds), ("batch_confirm_p50_ms", p50), ("batch_confirm_p99_ms", p99));
        return 0;
    }

    /// <summary>What the gateway's RabbitMQ forwarder puts on a message from device <paramref name="device"/> (topic <c>bench/c{device}</c>; see RabbitMqLink).</summary>
    private static BasicProperties GatewayLikeProperties(long sequence, long device) => new()
    {
        MessageId = $"bench-{sequence}",
        Persistent = true,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        AppId = "bench",
        Headers = new Dictionary<string, object?>(4)
        {
            ["x-mqtt-topic"] = $"bench/c{device}",
            ["x-mqtt-qos"] = 1,
            ["x-gateway-client-id"] = $"bench-{Environment.ProcessId}-{device}",
            ["x-gateway-seq"] = sequence,
        },
    };

    /// <summary>Opens idle MQTT connections and holds them (the memory cost of connected devices).</summary>
    public static async Task<int> IdleAsync(Options o)
    {
        var host = o.Text("host", "127.0.0.1");
        var port = o.Int("port", 1883);
        var connections = o.Int("connections", 10_000);
        var hold = TimeSpan.FromSeconds(o.Seconds("duration", 3600));
        o.RejectUnknown();
        var factory = new MqttClientFactory();
        var clients = new List<IMqttClient>(connections);
        var stop = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, connections), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            var client = factory.CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId($"idle-{Environment.ProcessId}-{i}")
                .WithCleanSession().WithKeepAlivePeriod(TimeSpan.FromMinutes(5)).WithTimeout(TimeSpan.FromSeconds(60)).Build(), ct);
            lock (clients)
            {
                clients.Add(client);
                if (clients.Count % 1000 == 0) Report.Progress($"idle: {clients.Count} connected");
            }
        });
        Report.Progress($"idle: {connections} connections open after {stop.Elapsed.TotalSeconds:0.0} s; holding them");
        Console.WriteLine("READY"); // the script waits for this line
        using var stopping = new CancellationTokenSource(hold);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stopping.Cancel();
        try { await Task.Delay(Timeout.Infinite, stopping.Token); } catch (OperationCanceledException) { }
        return 0;
    }
}
