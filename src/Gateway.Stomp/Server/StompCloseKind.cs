namespace Gateway.Stomp.Server;

/// <summary>Why a session ended, for logs and metrics.</summary>
public enum StompCloseKind
{
    /// <summary>DISCONNECT, or the client closed the connection.</summary>
    ClientClosed,

    /// <summary>The client broke the protocol (or a limit): it got an ERROR saying how.</summary>
    ProtocolError,

    /// <summary>The backend refused a SEND or SUBSCRIBE (store full, bad destination): ERROR.</summary>
    Refused,

    /// <summary>The client did not keep up with its subscriptions: ERROR, then cut off.</summary>
    SlowConsumer,

    /// <summary>No heart-beat (or no CONNECT) in time.</summary>
    Timeout,

    /// <summary>The connection broke, or the server is stopping.</summary>
    ConnectionLost,

    /// <summary>A bug on our side; see <see cref="StompServerSession.Fault"/>.</summary>
    InternalError,
}
