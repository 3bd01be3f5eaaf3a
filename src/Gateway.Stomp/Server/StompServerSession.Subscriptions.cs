using System.Globalization;

namespace Gateway.Stomp.Server;

// Subscriptions: SUBSCRIBE and UNSUBSCRIBE from the read loop, MESSAGE deliveries from the bus's
// threads, and the ACK/NACK that settle them. Shared state is guarded by _gate.
public sealed partial class StompServerSession
{
    /// <summary>STOMP 1.2, "SUBSCRIBE": the id, the destination and the ack mode; the backend starts delivering.</summary>
    private void Subscribe(StompFrame frame)
    {
        var destination = frame["destination"];
        if (string.IsNullOrEmpty(destination)) throw new StompProtocolException("SUBSCRIBE without a destination header");
        var id = frame["id"];
        if (string.IsNullOrEmpty(id))
        {
            // STOMP 1.0 made the id optional; 1.1 and 1.2 require it.
            if (Version != "1.0") throw new StompProtocolException("SUBSCRIBE without an id header");
            id = destination;
        }
        var ackMode = frame["ack"] switch
        {
            null or "auto" => StompAckMode.Auto,
            "client" => StompAckMode.Client,
            "client-individual" => StompAckMode.ClientIndividual,
            var other => throw new StompProtocolException($"ack mode '{other}' is not one of auto, client, client-individual"),
        };

        lock (_gate)
        {
            if (_subscriptions.ContainsKey(id)) throw new StompProtocolException($"subscription id '{id}' is already in use on this connection");
            if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
                throw new StompProtocolException($"too many subscriptions: at most {_options.MaxSubscriptionsPerConnection} per connection");
        }
        var subscription = new StompSubscription(this, id, destination, ackMode, frame.Headers);
        var registration = _backend.Subscribe(subscription);
        lock (_gate)
        {
            if (!_closing)
            {
                _subscriptions.Add(id, (subscription, registration));
                return;
            }
        }
        subscription.Deactivate();
        registration.Dispose();
    }

    /// <summary>STOMP 1.2, "UNSUBSCRIBE": deliveries stop, and its unacknowledged messages are forgotten.</summary>
    private void Unsubscribe(StompFrame frame)
    {
        var id = frame["id"] ?? (Version == "1.0" ? frame["destination"] : null);
        if (string.IsNullOrEmpty(id)) throw new StompProtocolException("UNSUBSCRIBE without an id header");
        (StompSubscription Subscription, IDisposable Registration) entry;
        lock (_gate)
        {
            if (!_subscriptions.Remove(id, out entry)) throw new StompProtocolException($"no subscription with id '{id}' on this connection");
            entry.Subscription.Deactivate();
            // Its messages awaiting an ACK will never get one: they stop counting against the client.
            foreach (var sequence in entry.Subscription.Unacknowledged)
            {
                if (_awaitingAck.Remove(AckId(sequence))) Interlocked.Decrement(ref _pendingMessages);
            }
            entry.Subscription.Unacknowledged.Clear();
        }
        entry.Registration.Dispose();
    }

    /// <summary>STOMP 1.2, "ACK" and "NACK": settled now, or at COMMIT when inside a transaction.</summary>
    private void AckOrBuffer(StompFrame frame)
    {
        // 1.2 names the message by the MESSAGE's ack header (id); 1.0 and 1.1 by its message-id.
        var ackId = Version == "1.2" ? frame["id"] : frame["message-id"] ?? frame["id"];
        if (string.IsNullOrEmpty(ackId)) throw new StompProtocolException($"{Name(frame.Command)} without an {(Version == "1.2" ? "id" : "message-id")} header");
        if (!WasIssued(ackId))
            throw new StompProtocolException($"{Name(frame.Command)} for '{ackId}', which is no message sent on this connection");
        if (frame["transaction"] is { } transaction)
        {
            AddToTransaction(transaction, frame);
            return;
        }
        Acknowledge(ackId);
    }

    /// <summary>ACK and NACK both settle the message: the bus is live, a NACKed message is not sent again.</summary>
    private void Acknowledge(string ackId)
    {
        lock (_gate)
        {
            if (!_awaitingAck.Remove(ackId, out var entry)) return; // settled meanwhile (cumulatively, or its subscription went)
            Interlocked.Decrement(ref _pendingMessages);
            var unacknowledged = entry.Subscription.Unacknowledged;
            unacknowledged.Remove(entry.Sequence);
            if (entry.Subscription.AckMode != StompAckMode.Client) return;
            // Cumulative: everything of this subscription up to this one.
            while (unacknowledged.Count > 0 && unacknowledged.Min <= entry.Sequence)
            {
                var earlier = unacknowledged.Min;
                unacknowledged.Remove(earlier);
                if (_awaitingAck.Remove(AckId(earlier))) Interlocked.Decrement(ref _pendingMessages);
            }
        }
    }

    /// <summary>
    /// Whether this session ever handed out <paramref name="ackId"/>: an ACK for a message already
    /// settled (cumulatively, twice, or after its UNSUBSCRIBE) is harmless and ignored, as brokers do;
    /// only an id never issued is an error.
    /// </summary>
    private bool WasIssued(string ackId)
    {
        var prefix = Id + "-";
        return ackId.StartsWith(prefix, StringComparison.Ordinal)
               && long.TryParse(ackId.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
               && sequence >= 1 && sequence <= Interlocked.Read(ref _messageSequence);
    }

    /// <summary>
    /// STOMP 1.2, "MESSAGE": queues one delivery for the write loop, never waiting; false when the
    /// session is closing, the subscription is gone, or the client is a slow consumer (then it is closed).
    /// </summary>
    internal bool Deliver(StompSubscription subscription, string destination, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body)
    {
        lock (_gate)
        {
            if (_closing || !subscription.IsActive) return false;
            if (Volatile.Read(ref _pendingMessages) < _options.MaxPendingMessages && Interlocked.Read(ref _pendingBytes) + body.Length <= _options.MaxPendingBytes)
            {
                var sequence = ++_messageSequence;
                var id = AckId(sequence);
                var clientAck = subscription.AckMode != StompAckMode.Auto;
                var all = new List<KeyValuePair<string, string>>(headers.Count + 4)
                {
                    new("destination", destination),
                    new("message-id", id),
                    new("subscription", subscription.Id),
                };
                if (clientAck)
                {
                    if (Version == "1.2") all.Add(new("ack", id));
                    _awaitingAck.Add(id, (subscription, sequence));
                    subscription.Unacknowledged.Add(sequence);
                }
                foreach (var header in headers)
                {
                    if (header.Key is not ("destination" or "message-id" or "subscription" or "ack" or "content-length")) all.Add(header);
                }
                Interlocked.Increment(ref _pendingMessages);
                Interlocked.Increment(ref _queuedFrames);
                Interlocked.Add(ref _pendingBytes, body.Length);
                _outbound.Writer.TryWrite(new Outbound(new StompFrame(StompCommand.Message, all, body), IsMessage: true, SettledWhenWritten: !clientAck));
                return true;
            }
        }
        var waiting = Volatile.Read(ref _pendingMessages);
        var bytes = Interlocked.Read(ref _pendingBytes);
        Close(StompCloseKind.SlowConsumer,
            $"slow consumer: {waiting} messages ({bytes} bytes) queued or unacknowledged (limit {_options.MaxPendingMessages} messages, {_options.MaxPendingBytes} bytes)",
            $"slow consumer: {waiting} messages ({bytes} bytes) were queued or awaiting acknowledgement (the limit is {_options.MaxPendingMessages} messages or {_options.MaxPendingBytes} bytes); read and acknowledge faster, or subscribe to less");
        return false;
    }

    private string AckId(long sequence) => string.Create(CultureInfo.InvariantCulture, $"{Id}-{sequence}");
}
