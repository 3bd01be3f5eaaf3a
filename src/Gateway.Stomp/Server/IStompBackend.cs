namespace Gateway.Stomp.Server;

/// <summary>
/// What a server session needs of the broker behind it: where SENDs go and where subscriptions come
/// from. The session speaks the protocol; the backend owns destinations, storage and routing.
/// </summary>
public interface IStompBackend
{
    /// <summary>
    /// Takes the SEND frames of one request (one SEND, or every SEND of a committed transaction, in
    /// order). When <paramref name="durable"/> is true it completes only once they are safely stored
    /// (the client asked for a receipt); otherwise once they are accepted.
    /// </summary>
    /// <exception cref="StompRefusedException">A destination is not valid or the store refused: the session answers with ERROR.</exception>
    ValueTask SendAsync(IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken);

    /// <summary>Completes once every SEND accepted so far (with or without a receipt) is stored; for DISCONNECT's receipt.</summary>
    /// <exception cref="StompRefusedException">One of them could not be stored.</exception>
    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Decides whether the client of a CONNECT (or STOMP) frame may come in, before CONNECTED is sent:
    /// its <c>login</c> and <c>passcode</c>, where it comes from. The default lets everyone in anonymously.
    /// </summary>
    /// <returns>The verified user name, or null for an anonymous client.</returns>
    /// <exception cref="StompRefusedException">Refused: the session answers with an ERROR saying why and closes.</exception>
    ValueTask<string?> ConnectAsync(StompFrame connect, CancellationToken cancellationToken) => ValueTask.FromResult<string?>(null);

    /// <summary>Starts delivering to a new subscription; disposing the result stops it.</summary>
    /// <exception cref="StompRefusedException">The destination is not one this broker serves.</exception>
    IDisposable Subscribe(StompSubscription subscription);
}

/// <summary>The backend said no; the message is fit for an ERROR frame's <c>message</c> header.</summary>
public sealed class StompRefusedException(string message, Exception? inner = null) : Exception(message, inner);
