using Gateway.Core.Routing;

namespace Gateway.Core.Bus;

/// <summary>A message as local subscribers see it: an MQTT topic name, the payload and what describes it.</summary>
/// <param name="Origin">Who published it (<c>mqtt</c> or <c>stomp</c>), for metrics and logs.</param>
public sealed record LocalMessage(
    string Topic,
    ReadOnlyMemory<byte> Payload,
    string? ContentType,
    IReadOnlyList<KeyValuePair<string, string>> Properties,
    string Origin);

/// <summary>
/// The gateway's own subscribers (STOMP clients): every accepted publish, from MQTT or STOMP, is
/// offered to each whose MQTT topic filter matches. MQTT subscribers are served by the MQTT server
/// itself; STOMP SENDs reach them by injection, so both sides see every message once.
/// </summary>
/// <remarks>
/// <see cref="Publish"/> never waits for a subscriber: each subscriber's callback must queue and
/// return (a STOMP session queues, and cuts off a client that falls too far behind), so a slow
/// browser never slows ingest or another subscriber. Subscribers are kept in an array replaced on
/// change, so publishing takes no lock.
/// </remarks>
public sealed class LocalBus
{
    private readonly Lock _changes = new();
    private Subscriber[] _subscribers = [];

    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>Adds a subscriber for an MQTT topic filter (already validated); dispose the result to remove it.</summary>
    public IDisposable Subscribe(string filter, Func<LocalMessage, bool> deliver)
    {
        var subscriber = new Subscriber(this, filter, deliver);
        lock (_changes) _subscribers = [.. _subscribers, subscriber];
        return subscriber;
    }

    /// <summary>Offers the message to every matching subscriber; returns how many took it.</summary>
    public int Publish(LocalMessage message)
    {
        var taken = 0;
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            if (TopicFilter.Matches(subscriber.Filter, message.Topic) && subscriber.Deliver(message)) taken++;
        }
        return taken;
    }

    private void Remove(Subscriber subscriber)
    {
        lock (_changes) _subscribers = Array.FindAll(_subscribers, s => !ReferenceEquals(s, subscriber));
    }

    private sealed class Subscriber(LocalBus bus, string filter, Func<LocalMessage, bool> deliver) : IDisposable
    {
        public string Filter { get; } = filter;
        public Func<LocalMessage, bool> Deliver { get; } = deliver;
        public void Dispose() => bus.Remove(this);
    }
}
