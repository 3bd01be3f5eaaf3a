using System.Text;
using Gateway.Core.Forwarding;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Gateway.Upstreams.RabbitMq;

/// <summary>One connection and confirm channel; sends a batch pipelined and waits once for all its confirms.</summary>
/// <remarks>
/// Liveness comes from the client: AMQP heartbeats (missed ones end the connection), a close by the
/// broker, a broken socket all raise the shutdown events, which mark the link lost at once.
/// A memory or disk alarm on the broker blocks the connection (<c>connection.blocked</c>): the link
/// stays alive and reports it through <see cref="Flow"/> until <c>connection.unblocked</c>.
/// </remarks>
internal sealed class RabbitMqLink : IUpstreamLink
{
    private const string DefaultExchange = "amq.topic";

    /// <summary>
    /// How long the client waits for the broker's answer to connection.close before it drops the
    /// socket (5 s is the least RabbitMQ.Client 7 accepts for an abort). A healthy broker answers
    /// within milliseconds; for a frozen one the forwarder stops waiting after a second and leaves
    /// this to finish in the background.
    /// </summary>
    private static readonly TimeSpan AbortTimeout = TimeSpan.FromSeconds(5);

    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _gatewayId;
    private readonly LinkLoss _loss = new();
    private readonly LinkFlow _flow = new();
    private volatile bool _closing;

    public RabbitMqLink(IConnection connection, IChannel channel, string gatewayId)
    {
        _connection = connection;
        _channel = channel;
        _gatewayId = gatewayId;
        connection.ConnectionShutdownAsync += OnConnectionShutdownAsync;
        channel.ChannelShutdownAsync += OnChannelShutdownAsync;
        connection.ConnectionBlockedAsync += OnBlockedAsync;
        connection.ConnectionUnblockedAsync += OnUnblockedAsync;
    }

    public CancellationToken Lost => _loss.Token;

    public string? LostBecause => _loss.Because;

    public LinkFlow Flow => _flow;

    public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, Action progressed, CancellationToken cancellationToken)
    {
        var confirms = new Task[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var delivery = batch[i];
            var message = delivery.Stored.Message;
            var target = delivery.Route.Target;
            // mandatory: a message no queue takes comes back as a return, which fails the batch
            // instead of vanishing upstream.
            confirms[i] = _channel.BasicPublishAsync(
                target.Exchange ?? DefaultExchange,
                target.RoutingKeyFor(message.Topic),
                mandatory: true,
                Properties(delivery),
                message.Payload,
                cancellationToken).AsTask();
        }

        await AwaitConfirmsAsync(confirms, progressed).ConfigureAwait(false);
        if (confirms.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException is { } first)
        {
            var failed = confirms.Count(t => t.IsFaulted);
            throw first switch
            {
                PublishReturnException r => new InvalidOperationException(
                    $"{failed} of {batch.Count} messages returned by the broker: {r.ReplyCode} {r.ReplyText} (exchange '{r.Exchange}', routing key '{r.RoutingKey}')", r),
                PublishException p => new InvalidOperationException($"{failed} of {batch.Count} messages nacked by the broker", p),
                _ => new InvalidOperationException($"{failed} of {batch.Count} messages not confirmed: {first.Message}", first),
            };
        }
        var cancelled = confirms.Count(t => t.IsCanceled);
        if (cancelled > 0)
        {
            cancellationToken.ThrowIfCancellationRequested(); // the forwarder gave the batch up
            throw new InvalidOperationException($"{cancelled} of {batch.Count} messages not confirmed: their publish was cancelled by the client");
        }
    }

    /// <summary>
    /// Waits for every confirm in publish order (the order RabbitMQ confirms a channel's publishes in,
    /// in practice; one out of order only delays the report), telling the forwarder of each one so a
    /// slow broker is not taken for a stalled one.
    /// </summary>
    private static async Task AwaitConfirmsAsync(Task[] confirms, Action progressed)
    {
        foreach (var confirm in confirms)
        {
            if (!confirm.IsCompleted) await confirm.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            progressed();
        }
    }

    private BasicProperties Properties(Delivery delivery)
    {
        var stored = delivery.Stored;
        var message = stored.Message;
        var headers = new Dictionary<string, object?>(4 + message.UserProperties.Count)
        {
            ["x-mqtt-topic"] = message.Topic,
            ["x-mqtt-qos"] = (int)message.Qos,
            ["x-gateway-client-id"] = message.ClientId,
            ["x-gateway-seq"] = stored.Sequence,
        };
        foreach (var (key, value) in message.UserProperties) headers.TryAdd(key, value);
        if (message.CorrelationData is { } correlation) headers["x-correlation-data"] = correlation.ToArray();

        var properties = new BasicProperties
        {
            MessageId = delivery.MessageId,
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(message.ReceivedAt.ToUnixTimeSeconds()),
            AppId = _gatewayId,
            ContentType = message.ContentType,
            Headers = headers,
        };
        if (message.CorrelationData is { } data && IsPrintableAscii(data.Span)) properties.CorrelationId = Encoding.ASCII.GetString(data.Span);
        if (message.ResponseTopic is not null) properties.ReplyTo = message.ResponseTopic;
        if (message.ExpiresAt is { } expires)
        {
            // What is left of the MQTT 5 expiry, so the broker drops it on time too.
            var remaining = Math.Max(1, (long)(expires - DateTimeOffset.UtcNow).TotalMilliseconds);
            properties.Expiration = remaining.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return properties;
    }

    private static bool IsPrintableAscii(ReadOnlySpan<byte> data)
    {
        if (data.Length is 0 or > 255) return false;
        foreach (var b in data)
        {
            if (b is < 0x20 or > 0x7e) return false;
        }
        return true;
    }

    private Task OnBlockedAsync(object sender, ConnectionBlockedEventArgs e)
    {
        _flow.Block(e.Reason);
        return Task.CompletedTask;
    }

    private Task OnUnblockedAsync(object sender, AsyncEventArgs e)
    {
        _flow.Unblock();
        return Task.CompletedTask;
    }

    private Task OnConnectionShutdownAsync(object sender, ShutdownEventArgs reason) => OnShutdown("connection", reason);

    private Task OnChannelShutdownAsync(object sender, ShutdownEventArgs reason) => OnShutdown("channel", reason);

    private Task OnShutdown(string what, ShutdownEventArgs reason)
    {
        if (!_closing)
        {
            var text = $"the {what} was closed ({reason.Initiator.ToString().ToLowerInvariant()}): {reason.ReplyCode} {reason.ReplyText}";
            _loss.Report(reason.Exception is { } ex && ex.Message != reason.ReplyText ? $"{text}; {ex.Message}" : text);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Aborts the connection: sends connection.close and waits at most <see cref="AbortTimeout"/> for
    /// the answer, then drops the socket. No separate channel close, which would wait on the broker too.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _connection.ConnectionShutdownAsync -= OnConnectionShutdownAsync;
        _channel.ChannelShutdownAsync -= OnChannelShutdownAsync;
        _connection.ConnectionBlockedAsync -= OnBlockedAsync;
        _connection.ConnectionUnblockedAsync -= OnUnblockedAsync;
        try
        {
            await _connection.AbortAsync(AbortTimeout).ConfigureAwait(false);
        }
        finally
        {
            await _channel.DisposeAsync().ConfigureAwait(false);
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
