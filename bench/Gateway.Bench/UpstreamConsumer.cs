using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Gateway.Stomp;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Gateway.Bench;

/// <summary>
/// Consumes what the broker under test forwarded (a RabbitMQ queue, or an ActiveMQ destination over
/// STOMP), reading the id and send time the load tool wrote at the front of each payload.
/// </summary>
internal abstract class UpstreamConsumer : IAsyncDisposable
{
    private readonly Dictionary<long, long> _arrivals = [];
    private long _first, _last;
    private long _loadEnded, _arrivedByLoadEnd;

    /// <summary>
    /// What arrived, and how late. <paramref name="Rate"/> runs from the first arrival to the last, so it
    /// takes in the drain after the publishers stopped; <paramref name="RateDuringLoad"/> counts only what
    /// arrived from the first arrival until they stopped: how fast the broker forwarded while it was also
    /// taking messages in (NaN when nothing arrived before the end of the load).
    /// </summary>
    public sealed record EndToEnd(long Received, long Missing, double Rate, double RateDuringLoad, double P50, double P99, double P999);

    public static UpstreamConsumer? FromOptions(Options o)
    {
        var amqp = o.Optional("consume-amqp");
        var stomp = o.Optional("consume-stomp");
        if (amqp is not null) return new Amqp(amqp, o.Required("queue"));
        if (stomp is not null) return new Stomp(new Uri(stomp), o.Required("destination"));
        return null;
    }

    public abstract Task StartAsync();

    public abstract ValueTask DisposeAsync();

    protected void Arrived(ReadOnlySpan<byte> payload) => Arrived(payload, Stopwatch.GetTimestamp());

    /// <summary>A message arrived at <paramref name="now"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    internal void Arrived(ReadOnlySpan<byte> payload, long now)
    {
        if (payload.Length < 16) return;
        var id = BinaryPrimitives.ReadInt64LittleEndian(payload);
        var sent = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        lock (_arrivals)
        {
            _arrivals.TryAdd(id, now - sent); // a replay keeps the first arrival
            if (_first == 0) _first = now;
            _last = now;
        }
    }

    /// <summary>Notes that the publishers stopped, for <see cref="EndToEnd.RateDuringLoad"/>.</summary>
    public void MarkLoadEnded() => MarkLoadEnded(Stopwatch.GetTimestamp());

    internal void MarkLoadEnded(long now)
    {
        lock (_arrivals)
        {
            _loadEnded = now;
            _arrivedByLoadEnd = _arrivals.Count;
        }
    }

    /// <summary>Waits until every one of <paramref name="ids"/> arrived, or nothing came for 15 s, or the timeout.</summary>
    public async Task<EndToEnd> WaitForAsync(IReadOnlySet<long> ids, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        long seen = -1;
        var quietSince = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            int count;
            lock (_arrivals) count = ids.Count(_arrivals.ContainsKey);
            if (count == ids.Count) break;
            if (count != seen)
            {
                seen = count;
                quietSince.Restart();
                Report.Progress($"upstream: {count} of {ids.Count}");
            }
            else if (quietSince.Elapsed > TimeSpan.FromSeconds(15))
            {
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        lock (_arrivals)
        {
            var latencies = new Latencies();
            latencies.AddRange(ids.Where(_arrivals.ContainsKey).Select(id => _arrivals[id]));
            var (p50, p99, p999, _) = latencies.Percentiles();
            var received = ids.Count(_arrivals.ContainsKey);
            var span = Latencies.Ms(_last - _first) / 1000;
            var loadSpan = _first == 0 || _loadEnded <= _first ? 0 : Latencies.Ms(_loadEnded - _first) / 1000;
            return new EndToEnd(received, ids.Count - received, span > 0 ? _arrivals.Count / span : double.NaN,
                loadSpan > 0 ? _arrivedByLoadEnd / loadSpan : double.NaN, p50, p99, p999);
        }
    }

    private sealed class Amqp(string uri, string queue) : UpstreamConsumer
    {
        private IConnection? _connection;
        private IChannel? _channel;

        public override async Task StartAsync()
        {
            _connection = await new ConnectionFactory { Uri = new Uri(uri) }.CreateConnectionAsync();
            _channel = await _connection.CreateChannelAsync();
            await _channel.BasicQosAsync(0, 2000, false);
            var consumer = new AsyncEventingBasicConsumer(_channel);
            consumer.ReceivedAsync += async (_, e) =>
            {
                Arrived(e.Body.Span);
                await _channel.BasicAckAsync(e.DeliveryTag, multiple: false);
            };
            await _channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        }

        public override async ValueTask DisposeAsync()
        {
            if (_channel is not null) await _channel.DisposeAsync();
            if (_connection is not null) await _connection.DisposeAsync();
        }
    }

    private sealed class Stomp(Uri uri, string destination) : UpstreamConsumer
    {
        private StompClientConnection? _connection;
        private Task? _reading;

        public override async Task StartAsync()
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(uri.Host, uri.Port);
            var user = uri.UserInfo.Split(':');
            _connection = await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions
            {
                Host = uri.Host, Login = user[0].Length > 0 ? user[0] : null, Passcode = user.Length > 1 ? user[1] : null,
            }, CancellationToken.None);
            await _connection.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Subscribe, ("destination", destination), ("id", "bench"), ("ack", "auto"), ("receipt", "sub"))], "sub", CancellationToken.None);
            _reading = Task.Run(async () =>
            {
                try
                {
                    await foreach (var frame in _connection.Messages.ReadAllAsync()) Arrived(frame.Body.Span);
                }
                catch (Exception ex)
                {
                    Report.Progress($"upstream STOMP consumer stopped: {ex.Message}");
                }
            });
        }

        public override async ValueTask DisposeAsync()
        {
            if (_connection is not null) await _connection.DisposeAsync();
            if (_reading is not null) await _reading;
        }
    }
}
