using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// A STOMP "broker" that refuses every login, as ActiveMQ does for a wrong password: it reads the
/// CONNECT, keeps its passcode (so a test knows which secret the gateway sent), answers ERROR, closes.
/// </summary>
internal sealed class RefusingStompBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public RefusingStompBroker()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Uri => $"stomp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>The passcode header of every CONNECT received.</summary>
    public ConcurrentBag<string> Passcodes { get; } = [];

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => RefuseAsync(client));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // stopped
        }
    }

    private async Task RefuseAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var received = new List<byte>();
            var buffer = new byte[1024];
            while (!received.Contains(0))
            {
                var n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                received.AddRange(buffer[..n]);
            }
            var frame = Encoding.UTF8.GetString([.. received]);
            var passcode = frame.Split('\n').FirstOrDefault(l => l.StartsWith("passcode:", StringComparison.Ordinal));
            if (passcode is not null) Passcodes.Add(passcode["passcode:".Length..]);
            await stream.WriteAsync("ERROR\nmessage:User name [gw] or password is invalid.\n\n\0"u8.ToArray(), _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
        {
            // the gateway went first
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
