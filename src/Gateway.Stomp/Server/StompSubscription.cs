namespace Gateway.Stomp.Server;

/// <summary>How a subscription's messages are acknowledged (STOMP 1.2, SUBSCRIBE <c>ack</c> header).</summary>
public enum StompAckMode
{
    /// <summary>Written is done: nothing to acknowledge.</summary>
    Auto,

    /// <summary>ACK is cumulative: it acknowledges the message and every earlier one of the subscription.</summary>
    Client,

    /// <summary>ACK acknowledges only the message it names.</summary>
    ClientIndividual,
}

/// <summary>One SUBSCRIBE of one session, as the backend sees it: where to deliver and how.</summary>
public sealed class StompSubscription
{
    private readonly StompServerSession _session;
    private volatile bool _active = true;

    internal StompSubscription(StompServerSession session, string id, string destination, StompAckMode ackMode, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        _session = session;
        Id = id;
        Destination = destination;
        AckMode = ackMode;
        Headers = headers;
    }

    /// <summary>The client's <c>id</c> for it, unique within its session.</summary>
    public string Id { get; }

    /// <summary>The destination as the client wrote it (for example <c>/topic/sensors.#</c>).</summary>
    public string Destination { get; }

    public StompAckMode AckMode { get; }

    /// <summary>Every header of the SUBSCRIBE frame, for backends that read their own.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public string SessionId => _session.Id;

    internal bool IsActive => _active;

    /// <summary>Sequences written under this subscription and not yet acknowledged (client modes).</summary>
    internal SortedSet<long> Unacknowledged { get; } = new();

    internal void Deactivate() => _active = false;

    /// <summary>
    /// Queues a MESSAGE for the client and returns at once: it never waits for the client. False when
    /// the subscription is gone or the client is too slow (it is then being disconnected, with the
    /// reason in an ERROR frame).
    /// </summary>
    /// <param name="destination">The MESSAGE's <c>destination</c> (the concrete one, not the subscription's pattern).</param>
    /// <param name="headers">Further headers (content-type, application headers); the session adds destination, message-id, subscription and ack.</param>
    /// <param name="body">The body; shared between subscribers, never modified.</param>
    public bool Deliver(string destination, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body) =>
        _active && _session.Deliver(this, destination, headers, body);
}
