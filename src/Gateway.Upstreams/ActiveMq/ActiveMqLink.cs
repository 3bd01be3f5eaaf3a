using System.Globalization;
using System.Net.Sockets;
using Gateway.Core.Forwarding;
using Gateway.Stomp;

namespace Gateway.Upstreams.ActiveMq;

/// <summary>
/// Sends each batch as one STOMP transaction: BEGIN, the SENDs, COMMIT with a receipt, all written in
/// one go; the batch counts as confirmed only when the RECEIPT for the COMMIT arrives.
/// </summary>
/// <remarks>
/// An ERROR, a broken connection or missed heart-beats fail the wait (and mark the link lost, also
/// when idle); the transaction is then aborted if the connection still stands, and the forwarder
/// sends the batch again from its first message. A committed transaction whose receipt was lost is
/// sent again too: at-least-once, and consumers drop replays by the <c>gateway-message-id</c> header.
/// Closing never waits on the broker for more than a moment: a link that failed a batch (a broker
/// that may be frozen) gets no ABORT wait and no DISCONNECT, just a closed socket.
/// </remarks>
internal sealed class ActiveMqLink(StompClientConnection connection, TcpClient tcp) : IUpstreamLink
{
    /// <summary>A healthy broker answers a DISCONNECT within milliseconds; a frozen one never does.</summary>
    private static readonly TimeSpan GoodbyeTimeout = TimeSpan.FromSeconds(1);

    private long _transactions;
    private volatile bool _failedBatch;

    public CancellationToken Lost => connection.Broken;

    public string? LostBecause => connection.Failure?.Message;

    public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, Action progressed, CancellationToken cancellationToken)
    {
        var transaction = "tx-" + Interlocked.Increment(ref _transactions).ToString(CultureInfo.InvariantCulture);
        var frames = new List<StompFrame>(batch.Count + 2) { StompFrame.Create(StompCommand.Begin, ("transaction", transaction)) };
        foreach (var delivery in batch) frames.Add(Send(delivery, transaction));
        frames.Add(StompFrame.Create(StompCommand.Commit, ("transaction", transaction), ("receipt", transaction)));

        try
        {
            // The whole transaction on the wire is the only progress STOMP shows before the receipt:
            // the stall clock then measures the broker's commit, not a slow uplink's upload.
            await connection.WriteAndAwaitReceiptAsync(frames, transaction, progressed, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            _failedBatch = true;
            if (connection.Failure is null) TryAbort(transaction);
            throw;
        }
    }

    /// <summary>
    /// Still connected (a stall): takes the transaction back so none of it is delivered half, without
    /// waiting: a frozen broker would hold the write, and the link is closed right after anyway
    /// (closing the socket ends an uncommitted transaction on the broker too).
    /// </summary>
    private void TryAbort(string transaction)
    {
        var quick = new CancellationTokenSource(GoodbyeTimeout);
        _ = connection.WriteAsync([StompFrame.Create(StompCommand.Abort, ("transaction", transaction))], quick.Token)
            .ContinueWith(static (t, quick) =>
            {
                _ = t.Exception;
                ((CancellationTokenSource)quick!).Dispose();
            }, quick, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private static StompFrame Send(Delivery delivery, string transaction)
    {
        var message = delivery.Stored.Message;
        var headers = new List<KeyValuePair<string, string>>(10 + message.UserProperties.Count)
        {
            new("destination", ActiveMqConnector.DestinationFor(delivery.Route, message.Topic)),
            new("transaction", transaction),
            new("persistent", "true"),
            new("gateway-message-id", delivery.MessageId),
            new("gateway-seq", delivery.Stored.Sequence.ToString(CultureInfo.InvariantCulture)),
            new("mqtt-topic", message.Topic),
            new("mqtt-qos", ((int)message.Qos).ToString(CultureInfo.InvariantCulture)),
            new("gateway-client-id", message.ClientId),
            new("timestamp", message.ReceivedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
        };
        if (message.ContentType is not null) headers.Add(new("content-type", message.ContentType));
        if (message.ResponseTopic is not null) headers.Add(new("reply-to", message.ResponseTopic));
        // ActiveMQ's "expires" is the JMS expiration: milliseconds since the epoch.
        if (message.ExpiresAt is { } expires) headers.Add(new("expires", expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)));
        foreach (var property in message.UserProperties) headers.Add(property);
        return new StompFrame(StompCommand.Send, headers, message.Payload);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // A clean goodbye only to a broker that has been answering.
            using var quick = new CancellationTokenSource(GoodbyeTimeout);
            if (!_failedBatch) await connection.DisconnectAsync(quick.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // a failed link has nothing to say goodbye to
        }
        await connection.DisposeAsync().ConfigureAwait(false);
        tcp.Dispose();
    }
}
