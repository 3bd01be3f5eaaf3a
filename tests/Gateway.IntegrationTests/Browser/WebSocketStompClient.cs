using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Stomp;

namespace Gateway.IntegrationTests.Browser;

/// <summary>
/// A bare STOMP-over-WebSocket subscriber for load tests: connects, subscribes, then (when asked)
/// reads MESSAGE frames and keeps only what the test checks, so a thousand of them fit in one process.
/// </summary>
public sealed class WebSocketStompClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private Task? _reading;

    /// <summary>Sequence numbers in arrival order (the payload starts with "&lt;sequence&gt;:&lt;timestamp&gt;:").</summary>
    public List<long> Sequences { get; } = [];

    /// <summary>Stopwatch ticks from publish to arrival, per message.</summary>
    public List<long> Lags { get; } = [];

    public string? Error { get; private set; }

    public int Count
    {
        get
        {
            lock (Sequences) return Sequences.Count;
        }
    }

    /// <summary>Connects and subscribes; <paramref name="receiveBuffer"/> shrinks the socket's receive buffer (a client that stops reading fills it soon).</summary>
    public static async Task<WebSocketStompClient> ConnectAsync(int httpPort, string destination, int? receiveBuffer = null)
    {
        var client = new WebSocketStompClient();
        client._socket.Options.AddSubProtocol("v12.stomp");
        var uri = new Uri($"ws://127.0.0.1:{httpPort}/stomp");
        if (receiveBuffer is { } size)
        {
            using var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, cancellationToken) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = size };
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            await client._socket.ConnectAsync(uri, new HttpMessageInvoker(handler, disposeHandler: false), CancellationToken.None);
        }
        else
        {
            await client._socket.ConnectAsync(uri, CancellationToken.None);
        }
        await client.SendAsync(StompFrame.Create(StompCommand.Connect, ("accept-version", "1.2"), ("host", "gw"), ("heart-beat", "0,0")));
        await client.ExpectAsync(StompCommand.Connected);
        await client.SendAsync(StompFrame.Create(StompCommand.Subscribe, ("destination", destination), ("id", "0"), ("receipt", "subscribed")));
        await client.ExpectAsync(StompCommand.Receipt);
        return client;
    }

    private async Task SendAsync(StompFrame frame)
    {
        var buffer = new ArrayBufferWriter<byte>();
        StompFrameWriter.Write(frame, buffer);
        await _socket.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Text, true, CancellationToken.None);
    }

    private async Task ExpectAsync(StompCommand command)
    {
        var frame = await ReadFrameAsync() ?? throw new IOException($"closed while waiting for {command}");
        if (frame.Command != command) throw new IOException($"expected {command}, got {frame.Command} {frame["message"]}");
    }

    /// <summary>One whole frame (the server writes one per WebSocket message); null when the socket closed.</summary>
    public async Task<StompFrame?> ReadFrameAsync()
    {
        var message = await ReceiveMessageAsync();
        if (message is null) return null;
        var sequence = new ReadOnlySequence<byte>(message);
        return StompFrameReader.TryParse(ref sequence, StompLimits.Default, out var frame, out _) ? frame : throw new IOException("a WebSocket message held no whole frame");
    }

    private readonly byte[] _buffer = new byte[16 * 1024];

    private async Task<byte[]?> ReceiveMessageAsync()
    {
        var length = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer.AsMemory(length), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            length += result.Count;
            if (result.EndOfMessage) return _buffer.AsSpan(0, length).ToArray();
            if (length == _buffer.Length) throw new IOException("a frame larger than the test buffer");
        }
    }

    /// <summary>Starts reading MESSAGE frames in the background until the socket closes.</summary>
    public void StartReading() => _reading = Task.Run(ReadLoopAsync);

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(_buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                // Cheap parse: the body follows the blank line; it starts "<sequence>:<timestamp>:".
                var frame = _buffer.AsSpan(0, result.Count);
                if (!frame.StartsWith("MESSAGE\n"u8))
                {
                    Error = Encoding.UTF8.GetString(frame);
                    return;
                }
                var body = frame[(frame.IndexOf("\n\n"u8) + 2)..];
                var first = body.IndexOf((byte)':');
                var second = body[(first + 1)..].IndexOf((byte)':') + first + 1;
                var sequence = long.Parse(body[..first]);
                var sent = long.Parse(body[(first + 1)..second]);
                lock (Sequences)
                {
                    Sequences.Add(sequence);
                    Lags.Add(now - sent);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // disposed
        }
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
            Error ??= ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Abort();
        if (_reading is not null) await _reading;
        _socket.Dispose();
    }
}
