using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.IntegrationTests.Limits;

/// <summary>STOMP as text on a TCP socket from a chosen address: sends frames, reads the gateway's frames one by one, and sees the close.</summary>
internal sealed class RawStompClient : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly StringBuilder _received = new();

    public static async Task<RawStompClient> DialAsync(int port, IPAddress? from = null)
    {
        var client = new RawStompClient();
        if (from is not null) client._socket.Bind(new IPEndPoint(from, 0));
        await client._socket.ConnectAsync(IPAddress.Loopback, port);
        return client;
    }

    /// <summary>Dials, sends CONNECT and checks the answer is CONNECTED.</summary>
    public static async Task<RawStompClient> ConnectAsync(int port, IPAddress? from = null)
    {
        var client = await DialAsync(port, from);
        await client.SendAsync("CONNECT\naccept-version:1.2\nhost:gw\n\n");
        var answer = await client.ReceiveAsync(Patience.Reaction);
        Assert.True(answer?.StartsWith("CONNECTED\n", StringComparison.Ordinal) == true, $"CONNECT was answered {answer ?? "by a close"}");
        return client;
    }

    /// <summary>Sends one frame (the NUL that ends it is added).</summary>
    public async Task SendAsync(string frame) => await _socket.SendAsync(Encoding.UTF8.GetBytes(frame + "\0"));

    /// <summary>The next frame (heart-beat newlines skipped), or null once the gateway closed the connection.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        var buffer = new byte[4096];
        while (true)
        {
            var text = _received.ToString().TrimStart('\n', '\r');
            var end = text.IndexOf('\0', StringComparison.Ordinal);
            if (end >= 0)
            {
                _received.Clear().Append(text[(end + 1)..]);
                return text[..end];
            }
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return null;
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the gateway neither sent a frame nor closed the connection within {wait}");
            }
            if (read == 0) return null;
            _received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
