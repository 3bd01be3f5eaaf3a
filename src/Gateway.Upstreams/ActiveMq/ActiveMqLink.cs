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
/// An ERROR, a broken connection or missed heart-beats fail the wait; the transaction is then
/// aborted if the connection still stands, and the forwarder sends the batch again from its first
/// message. A committed transaction whose receipt was lost is sent again too: at-least-once, and
/// consumers drop replays by the <c>gateway-message-id</c> header.
/// </remarks>
internal sealed class ActiveMqLink(StompClientConnection connection, TcpClient tcp) : IUpstreamLink
{
    private long _transactions;

    public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken)
    {
        var transaction = "tx-" + Interlocked.Increment(ref _transactions).ToString(CultureInfo.InvariantCulture);
        var frames = new List<StompFrame>(batch.Count + 2) { StompFrame.Create(StompCommand.Begin, ("transaction", transaction)) };
        foreach (var delivery in batch) frames.Add(Send(delivery, transaction));
        frames.Add(StompFrame.Create(StompCommand.Commit, ("transaction", transaction), ("receipt", transaction)));

        try
        {
            await connection.WriteAndAwaitReceiptAsync(frames, transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (connection.Failure is null)
        {
            // Still connected (a timeout): take the transaction back so none of it is delivered half.
            try
            {
                await connection.WriteAsync([StompFrame.Create(StompCommand.Abort, ("transaction", transaction))], CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // the link is going down anyway; the batch is retried either way
            }
            throw;
        }
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
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await connection.DisconnectAsync(quick.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // a failed link has nothing to say goodbye to
        }
        await connection.DisposeAsync().ConfigureAwait(false);
        tcp.Dispose();
    }
}
