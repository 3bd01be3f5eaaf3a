using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Gateway.TestUtilities;

/// <summary>A message as a consumer of the upstream queue saw it.</summary>
public sealed record UpstreamMessage(string RoutingKey, string? MessageId, bool Persistent, string Body, IDictionary<string, object?> Headers)
{
    public string Header(string name) => Headers.TryGetValue(name, out var v) && v is byte[] bytes ? Encoding.UTF8.GetString(bytes) : v?.ToString() ?? "";
}

/// <summary>Reads what the gateway delivered to a RabbitMQ queue, with a real consumer.</summary>
public static class QueueReader
{
    /// <summary>Consumes until <paramref name="expected"/> messages arrived or nothing new came for <paramref name="quiet"/>, within <paramref name="timeout"/>.</summary>
    public static Task<List<UpstreamMessage>> ReadAsync(string amqpUri, string queue, int expected, TimeSpan timeout, TimeSpan? quiet = null) =>
        ReadUntilAsync(amqpUri, queue, received => received.Count >= expected, timeout, quiet);

    /// <summary>
    /// Consumes until every one of <paramref name="bodies"/> has arrived (replays do not count twice),
    /// or nothing new came for <paramref name="quiet"/>, within <paramref name="timeout"/>.
    /// </summary>
    public static Task<List<UpstreamMessage>> ReadAllOfAsync(string amqpUri, string queue, IReadOnlySet<string> bodies, TimeSpan timeout, TimeSpan? quiet = null)
    {
        var seen = new HashSet<string>();
        return ReadUntilAsync(amqpUri, queue, received =>
        {
            seen.Add(received[^1].Body);
            return bodies.IsSubsetOf(seen);
        }, timeout, quiet);
    }

    private static async Task<List<UpstreamMessage>> ReadUntilAsync(string amqpUri, string queue, Func<List<UpstreamMessage>, bool> done, TimeSpan timeout, TimeSpan? quiet)
    {
        var factory = new ConnectionFactory { Uri = new Uri(amqpUri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 1000, false);
        var received = new List<UpstreamMessage>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastArrival = DateTime.UtcNow;
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, e) =>
        {
            var props = e.BasicProperties;
            lock (received)
            {
                received.Add(new UpstreamMessage(e.RoutingKey, props.MessageId, props.Persistent, Encoding.UTF8.GetString(e.Body.Span),
                    props.Headers is { } h ? new Dictionary<string, object?>(h) : new Dictionary<string, object?>()));
                lastArrival = DateTime.UtcNow;
                if (done(received)) enough.TrySetResult();
            }
            await channel.BasicAckAsync(e.DeliveryTag, false);
        };
        var tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer);

        var deadline = DateTime.UtcNow + timeout;
        while (!enough.Task.IsCompleted && DateTime.UtcNow < deadline)
        {
            if (quiet is { } q && DateTime.UtcNow - lastArrival > q) break;
            await Task.WhenAny(enough.Task, Task.Delay(TimeSpan.FromMilliseconds(200)));
        }
        await channel.BasicCancelAsync(tag);
        lock (received) return [.. received];
    }
}
