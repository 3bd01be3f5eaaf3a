using System.IO.Pipelines;

namespace Gateway.Stomp.Server;

/// <summary>
/// The bytes under a server session: a TCP connection (Kestrel's pipes), a WebSocket, or an
/// in-memory pipe in tests. The session parses <see cref="Input"/> and hands whole frames to
/// <see cref="SendAsync"/>.
/// </summary>
public interface IStompTransport
{
    /// <summary>What the client sent; completed when the client closed its side.</summary>
    PipeReader Input { get; }

    /// <summary>
    /// True when each <see cref="SendAsync"/> call becomes one message of its own (WebSocket), so
    /// frames must not be coalesced; false for a byte stream, where the session batches frames into one write.
    /// </summary>
    bool OneFramePerSend { get; }

    /// <summary>Writes one frame (or, for a byte stream, several) and completes when the transport took them.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken);

    /// <summary>Closes the connection after what was sent; never throws.</summary>
    ValueTask CloseAsync();
}
