namespace Gateway.Bench;

public static class Program
{
    private const string Usage = """
        gateway-bench: load tool for the edge gateway (and any MQTT broker)

          mqtt          --host H --port P --connections N --qos 0|1|2 --payload BYTES --rate MSGS_PER_S (0 = flat out)
                        --duration S [--messages N] [--in-flight N] [--topic PREFIX] [--mqtt 5|3] [--label TEXT]
                        [--persistent yes] (persistent sessions) [--offline-subscriber FILTER] (a persistent QoS 1 subscriber, offline)
                        [--dashboard http://HOST:PORT [--dashboard-clients 10]] (status dashboards open: /api/status/events streams)
                        [--consume-amqp amqp://... --queue Q | --consume-stomp stomp://user:pass@host:port --destination D]
                        [--drain-timeout S] [--metrics http://host:port/metrics]
                        Publishes (QoS 1/2: one awaiting its ack per connection, or up to --in-flight); reports sent,
                        acknowledged, refused, msgs/s and ack latency p50/p99/p99.9. With a consumer, also what arrived
                        upstream, the end-to-end rate (while the load ran, and first arrival to last) and latency, and
                        how many acknowledged messages are missing (exit code 3 when any is). With --metrics (the
                        gateway's), also its own account of the load: how long acks waited for the store, commits
                        and fsyncs took, and messages per fsync.
          server        --port P [--bind A]             a bare MQTTnet server, no storage (the reference)
          amqp-publish  --uri amqp://... [--exchange X] [--routing-key K] [--messages N] [--payload BYTES] [--batch N] [--in-flight N] [--properties plain|gateway] [--keys N]
                        RabbitMQ.Client publishing persistent messages with confirms (the ceiling of forwarding)
          idle          --host H --port P --connections N [--duration S]   holds N idle MQTT connections
          flood         --pid GATEWAY_PID [--host H] [--port P] [--http-port P] [--clients 10] [--rate 20] [--phase S]
                        [--connects 5000] [--parallel 100] [--half-open 1000] [--slow-handshakes 20] [--hold S] [--sources 1]
                        [--warm-up S] [--settle S]
                        Well-behaved clients publish QoS 1 at --rate each before, during and after a flood of connects,
                        half-open sockets and slow WebSocket handshakes (from 127.0.1.x, 127.0.2.x, 127.0.3.x); reports
                        their ack p50/p99 per phase, what the gateway did with the flood, its limits counted, and its
                        RSS idle, with the clients before the flood, at its peak, and after (--settle s after the flood's
                        after phase; read from /proc/PID/status).
          queue         --uri amqp://... --queue Q [--exchange X] [--binding-key K] [--purge yes]   declares, binds, purges
          consume       --uri amqp://... --queue Q --expect N [--timeout S]  drains a queue, timing first and last arrival
          report        --results FILE --out FILE --machine TEXT --command TEXT [--notes FILE]
                        writes docs/benchmarks.md from a side-by-side run's RESULT lines

        Every result is printed as one line 'RESULT label=... key=value ...'; progress goes to stderr.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            var options = new Options(args.Skip(1));
            return args[0] switch
            {
                "mqtt" => await MqttLoad.RunAsync(options),
                "server" => await References.ServerAsync(options),
                "amqp-publish" => await References.AmqpPublishAsync(options),
                "idle" => await References.IdleAsync(options),
                "flood" => await Flood.RunAsync(options),
                "consume" => await Consume.RunAsync(options),
                "queue" => await Consume.QueueAsync(options),
                "report" => BenchReport.Write(options),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync($"gateway-bench: {ex.Message}\n\n{Usage}");
            return 2;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or MQTTnet.Exceptions.MqttCommunicationException or RabbitMQ.Client.Exceptions.BrokerUnreachableException)
        {
            await Console.Error.WriteLineAsync($"gateway-bench: could not reach the broker: {ex.Message}");
            return 1;
        }
    }
}
