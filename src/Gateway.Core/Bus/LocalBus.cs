using Gateway.Core.Diagnostics;
using Gateway.Core.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
/// <para>
/// <see cref="PostAsync"/> queues the message with the subscribers whose filters match it at that
/// moment, and returns; a message nobody subscribes to is not queued at all. One dispatcher at a time
/// (a thread-pool work item while anything is queued) offers the queued messages to their
/// subscribers, in the order they were posted. So the fan-out to a thousand dashboards is not in
/// the path of the device's PUBACK or the browser's RECEIPT, and each publisher's messages reach
/// every subscriber in the order it sent them. The queue is bounded (<see cref="MaxQueued"/>
/// messages, <see cref="MaxQueuedBytes"/> of payload): beyond that a post waits for room, in order
/// (one post per publishing connection at most, as each waits for its own), so a machine that
/// cannot keep up with its subscribers slows the acks of their publishers rather than losing local
/// deliveries or memory.
/// </para>
/// <para>
/// A subscriber's callback must queue and return (a STOMP session queues, and cuts off a client
/// that falls too far behind), so a slow browser never slows another subscriber. Subscribers are
/// kept in an array replaced on change, so offering a message takes no lock.
/// </para>
/// </remarks>
public sealed partial class LocalBus
{
    /// <summary>At most this many messages wait for the dispatcher before a post waits for room.</summary>
    public const int MaxQueued = 1024;

    /// <summary>At most this much payload waits for the dispatcher (a bigger message is taken alone).</summary>
    public const long MaxQueuedBytes = 8L << 20;

    /// <summary>Messages one work item offers before it lets the pool run other work.</summary>
    private const int BatchPerWorkItem = 64;

    private readonly GatewayMetrics? _metrics;
    private readonly ILogger _logger;
    private readonly Lock _changes = new();
    private Subscriber[] _subscribers = [];

    private readonly Lock _queueLock = new();
    private readonly Queue<Entry> _queue = new();
    private readonly Queue<(Entry Item, TaskCompletionSource Room)> _waiting = new();
    private long _queuedBytes;
    private bool _dispatching;
    private readonly Dispatcher _dispatcher;

    /// <summary>A posted message and the subscribers its topic matched when it was posted.</summary>
    private readonly record struct Entry(LocalMessage Message, Subscriber[] Subscribers);

    public LocalBus(GatewayMetrics? metrics = null, ILogger<LocalBus>? logger = null)
    {
        _metrics = metrics;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _dispatcher = new Dispatcher(this);
        metrics?.Gauge("local_bus_queued", "", () => Queued);
    }

    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>Messages posted and not yet offered to the subscribers (waiting for room included).</summary>
    public int Queued
    {
        get
        {
            lock (_queueLock) return _queue.Count + _waiting.Count;
        }
    }

    /// <summary>Adds a subscriber for an MQTT topic filter (already validated); dispose the result to remove it.</summary>
    public IDisposable Subscribe(string filter, Func<LocalMessage, bool> deliver)
    {
        var subscriber = new Subscriber(this, filter, deliver);
        lock (_changes) _subscribers = [.. _subscribers, subscriber];
        return subscriber;
    }

    /// <summary>
    /// Queues the message for the subscribers whose filters match it now. Completes at once while the
    /// queue has room (or nobody subscribes to its topic); otherwise once it has, after the posts
    /// waiting before it.
    /// </summary>
    public ValueTask PostAsync(LocalMessage message)
    {
        var subscribers = Volatile.Read(ref _subscribers);
        if (!AnyMatches(subscribers, message.Topic)) return ValueTask.CompletedTask; // the usual case on the ingest path
        var item = new Entry(message, subscribers);
        TaskCompletionSource room;
        lock (_queueLock)
        {
            if (_waiting.Count == 0 && HasRoomFor(message))
            {
                Enqueue(item);
                if (!_dispatching)
                {
                    _dispatching = true;
                    ThreadPool.UnsafeQueueUserWorkItem(_dispatcher, preferLocal: false);
                }
                return ValueTask.CompletedTask;
            }
            // The poster's continuation must not run on the dispatcher that makes the room.
            room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((item, room));
        }
        _metrics?.Increment("local_bus_full_waits_total");
        return new ValueTask(room.Task);
    }

    /// <summary>The dispatcher: offers queued messages in order, a batch per work item.</summary>
    private void Dispatch()
    {
        for (var i = 0; i < BatchPerWorkItem; i++)
        {
            Entry item;
            List<TaskCompletionSource>? admitted = null;
            lock (_queueLock)
            {
                if (!_queue.TryDequeue(out item))
                {
                    _dispatching = false;
                    return;
                }
                _queuedBytes -= item.Message.Payload.Length;
                while (_waiting.TryPeek(out var waiting) && HasRoomFor(waiting.Item.Message))
                {
                    _waiting.Dequeue();
                    Enqueue(waiting.Item);
                    (admitted ??= []).Add(waiting.Room);
                }
            }
            if (admitted is not null) foreach (var room in admitted) room.TrySetResult();
            Offer(item.Message, item.Subscribers);
        }
        // More may be queued: the next batch goes behind whatever else the pool has to run.
        ThreadPool.UnsafeQueueUserWorkItem(_dispatcher, preferLocal: false);
    }

    private static bool AnyMatches(Subscriber[] subscribers, string topic)
    {
        foreach (var subscriber in subscribers)
        {
            if (TopicFilter.Matches(subscriber.Filter, topic)) return true;
        }
        return false;
    }

    private bool HasRoomFor(LocalMessage message) =>
        _queue.Count == 0 || (_queue.Count < MaxQueued && _queuedBytes + message.Payload.Length <= MaxQueuedBytes);

    private void Enqueue(Entry item)
    {
        _queue.Enqueue(item);
        _queuedBytes += item.Message.Payload.Length;
    }

    /// <summary>To every matching subscriber of those when it was posted; one that throws is counted and logged, and the rest still get it.</summary>
    private void Offer(LocalMessage message, Subscriber[] subscribers)
    {
        var taken = 0;
        foreach (var subscriber in subscribers)
        {
            try
            {
                if (TopicFilter.Matches(subscriber.Filter, message.Topic) && subscriber.Deliver(message)) taken++;
            }
            catch (Exception ex)
            {
                _metrics?.Increment("local_delivery_failures_total");
                LogDeliveryFailed(message.Topic, ex.Message);
            }
        }
        if (taken > 0) _metrics?.Increment("local_deliveries_total", by: taken);
    }

    private void Remove(Subscriber subscriber)
    {
        lock (_changes) _subscribers = Array.FindAll(_subscribers, s => !ReferenceEquals(s, subscriber));
    }

    [LoggerMessage(EventIds.LocalDeliveryFailed, LogLevel.Warning, "A message to '{Topic}' could not be delivered to a local subscriber: {Cause}")]
    private partial void LogDeliveryFailed(string topic, string cause);

    /// <summary>The pool work item that runs <see cref="Dispatch"/>; private, so nobody else can run a second dispatcher.</summary>
    private sealed class Dispatcher(LocalBus bus) : IThreadPoolWorkItem
    {
        public void Execute() => bus.Dispatch();
    }

    private sealed class Subscriber(LocalBus bus, string filter, Func<LocalMessage, bool> deliver) : IDisposable
    {
        public string Filter { get; } = filter;
        public Func<LocalMessage, bool> Deliver { get; } = deliver;
        public void Dispose() => bus.Remove(this);
    }
}
