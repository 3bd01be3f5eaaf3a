using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text.Unicode;
using Gateway.Stomp.Server;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Stomp;

/// <summary>STOMP over plain TCP: Kestrel's pipes; frames are written back to back.</summary>
internal sealed class TcpStompTransport(ConnectionContext connection) : IStompTransport
{
    public PipeReader Input => connection.Transport.Input;

    public bool OneFramePerSend => false;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        var result = await connection.Transport.Output.WriteAsync(frames, cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted) throw new IOException("the client closed the connection");
    }

    public async ValueTask CloseAsync()
    {
        try
        {
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // already gone
        }
    }
}

/// <summary>
/// STOMP over WebSocket: each frame is one WebSocket message (text when it is valid UTF-8, as browsers
/// expect, binary otherwise); what the client sends is poured into a pipe, since a frame may span
/// messages and a message may hold several frames.
/// </summary>
internal sealed class WebSocketStompTransport : IStompTransport
{
    private readonly WebSocket _socket;
    private readonly Pipe _incoming = new();
    private readonly Task _receiving;

    public WebSocketStompTransport(WebSocket socket)
    {
        _socket = socket;
        _receiving = Task.Run(ReceiveLoopAsync);
    }

    public PipeReader Input => _incoming.Reader;

    public bool OneFramePerSend => true;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        var type = Utf8.IsValid(frames.Span) ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        await _socket.SendAsync(frames, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _incoming.Writer;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(4096);
                var result = await _socket.ReceiveAsync(memory, CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close) break;
                writer.Advance(result.Count);
                var flushed = await writer.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    // The session stopped reading (it is closing): discard what still comes until the
                    // client answers the close, so its last frames reach it rather than a reset.
                    var discard = new byte[4096];
                    while ((await _socket.ReceiveAsync(discard, CancellationToken.None).ConfigureAwait(false)).MessageType != WebSocketMessageType.Close) { }
                    break;
                }
            }
            await writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            await writer.CompleteAsync(new IOException($"the WebSocket broke: {ex.Message}", ex)).ConfigureAwait(false);
        }
    }

    public async ValueTask CloseAsync()
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, deadline.Token).ConfigureAwait(false);
                // Let the client read what is left (an ERROR, a RECEIPT) and answer the close; aborting
                // at once could reset the connection with the last frames still unsent.
                await Task.WhenAny(_receiving, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // the client is gone already
        }
        finally
        {
            _socket.Abort();
        }
        // The session completed its input before closing, so the receive loop ends; bounded all the same.
        await Task.WhenAny(_receiving, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
    }
}

/// <summary>Kestrel hands every connection on the STOMP TCP port here.</summary>
internal sealed class StompTcpConnectionHandler(StompBridge bridge, IHostApplicationLifetime lifetime) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        bridge.RunSessionAsync(new TcpStompTransport(connection), connection.RemoteEndPoint?.ToString() ?? "?", (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Address, connection.Features, lifetime.ApplicationStopping);
}
