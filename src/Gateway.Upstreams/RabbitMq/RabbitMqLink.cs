using System.Text;
using Gateway.Core.Forwarding;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Gateway.Upstreams.RabbitMq;

/// <summary>One connection and confirm channel; sends a batch pipelined and waits once for all its confirms.</summary>
internal sealed class RabbitMqLink(IConnection connection, IChannel channel, string gatewayId) : IUpstreamLink
{
    private const string DefaultExchange = "amq.topic";

    public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken)
    {
        var confirms = new Task[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var delivery = batch[i];
            var message = delivery.Stored.Message;
            var target = delivery.Route.Target;
            // mandatory: a message no queue takes comes back as a return, which fails the batch
            // instead of vanishing upstream.
            confirms[i] = channel.BasicPublishAsync(
                target.Exchange ?? DefaultExchange,
                target.RoutingKeyFor(message.Topic),
                mandatory: true,
                Properties(delivery),
                message.Payload,
                cancellationToken).AsTask();
        }

        try
        {
            await Task.WhenAll(confirms).ConfigureAwait(false);
        }
        catch (Exception) when (confirms.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException is { } first)
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
            AppId = gatewayId,
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

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (channel.IsOpen) await channel.CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
