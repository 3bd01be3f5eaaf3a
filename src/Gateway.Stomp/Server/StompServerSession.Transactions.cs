namespace Gateway.Stomp.Server;

// Transactions (read loop only): SENDs, ACKs and NACKs held per transaction until COMMIT or ABORT,
// within the limits of StompServerOptions so an open transaction cannot grow without bound.
public sealed partial class StompServerSession
{
    /// <summary>STOMP 1.2, "BEGIN".</summary>
    private void Begin(StompFrame frame)
    {
        var transaction = frame["transaction"];
        if (string.IsNullOrEmpty(transaction)) throw new StompProtocolException("BEGIN without a transaction header");
        if (_transactions.ContainsKey(transaction)) throw new StompProtocolException($"transaction '{transaction}' is already open");
        if (_transactions.Count >= _options.MaxOpenTransactions)
            throw new StompProtocolException($"too many open transactions: at most {_options.MaxOpenTransactions} per connection");
        _transactions.Add(transaction, []);
    }

    private string RequiredTransaction(StompFrame frame)
    {
        var transaction = frame["transaction"];
        if (string.IsNullOrEmpty(transaction)) throw new StompProtocolException($"{Name(frame.Command)} without a transaction header");
        if (!_transactions.ContainsKey(transaction)) throw new StompProtocolException($"no open transaction '{transaction}'");
        return transaction;
    }

    private void AddToTransaction(string transaction, StompFrame frame)
    {
        if (!_transactions.TryGetValue(transaction, out var frames)) throw new StompProtocolException($"no open transaction '{transaction}'");
        if (frames.Count >= _options.MaxTransactionFrames)
            throw new StompProtocolException($"transaction '{transaction}' holds more than {_options.MaxTransactionFrames} frames");
        if (_transactionBytes + frame.Body.Length > _options.MaxTransactionBytes)
            throw new StompProtocolException($"open transactions hold more than {_options.MaxTransactionBytes} bytes of message bodies on this connection");
        _transactionBytes += frame.Body.Length;
        frames.Add(frame);
    }

    private List<StompFrame> TakeTransaction(StompFrame frame)
    {
        _transactions.Remove(RequiredTransaction(frame), out var frames);
        _transactionBytes -= frames!.Sum(f => (long)f.Body.Length);
        return frames!;
    }

    /// <summary>STOMP 1.2, "ABORT": drops the transaction's frames; the receipts they asked for are answered (the frames were processed: discarded).</summary>
    private void Abort(StompFrame frame)
    {
        foreach (var held in TakeTransaction(frame))
        {
            if (held["receipt"] is { } receipt) Enqueue(Receipt(receipt));
        }
    }

    /// <summary>STOMP 1.2, "COMMIT": the held SENDs stored as one batch, then the held ACKs and NACKs settled.</summary>
    private async ValueTask CommitAsync(StompFrame frame, bool durable, CancellationToken cancellationToken)
    {
        var frames = TakeTransaction(frame);
        var sends = frames.Where(f => f.Command == StompCommand.Send).ToList();
        // Durable when the COMMIT or any of its SENDs asked for a receipt: those receipts follow the disk.
        durable |= frames.Any(f => f["receipt"] is not null);
        if (sends.Count > 0) await CallBackendAsync(sends, durable, cancellationToken).ConfigureAwait(false);
        foreach (var settle in frames.Where(f => f.Command is StompCommand.Ack or StompCommand.Nack))
            Acknowledge(Version == "1.2" ? settle["id"]! : settle["message-id"] ?? settle["id"]!);
        foreach (var held in frames)
        {
            if (held["receipt"] is { } receipt) Enqueue(Receipt(receipt));
        }
    }
}
