using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Bench;

/// <summary>
/// What the flood throws at the gateway, each from source addresses of its own (127/8 is all loopback
/// on Linux, so one machine plays many hosts): connects, half-open sockets, slow WebSocket handshakes.
/// Each returns how the gateway answered.
/// </summary>
internal static class FloodAttacks
{
    /// <summary>A minimal MQTT 3.1.1 CONNECT (client id "f", clean session, keep alive 60 s).</summary>
    private static readonly byte[] Connect = [0x10, 0x0D, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, (byte)'f'];

    public sealed record ConnectOutcome(int Accepted, int Refused, int Failed);

    public sealed record HeldOutcome(int Opened, int ClosedByGateway, int StillOpen, int Failed);

    /// <summary>
    /// <paramref name="count"/> MQTT connects, <paramref name="parallel"/> at a time, spread over
    /// <paramref name="sources"/>: each sends CONNECT and waits for CONNACK (accepted) or the close (refused), then leaves.
    /// </summary>
    public static async Task<ConnectOutcome> ConnectsAsync(IPEndPoint gateway, IReadOnlyList<IPAddress> sources, int count, int parallel)
    {
        int accepted = 0, refused = 0, failed = 0, next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                switch (await OneConnectAsync(gateway, sources[i % sources.Count]))
                {
                    case true: Interlocked.Increment(ref accepted); break;
                    case false: Interlocked.Increment(ref refused); break;
                    default: Interlocked.Increment(ref failed); break;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(Worker)));
        return new ConnectOutcome(accepted, refused, failed);
    }

    /// <summary>True: CONNACK; false: closed without one; null: could not connect, or no answer in 10 s.</summary>
    private static async Task<bool?> OneConnectAsync(IPEndPoint gateway, IPAddress source)
    {
        using var socket = Dial(source);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(gateway, timeout.Token);
            await socket.SendAsync(Connect, SocketFlags.None, timeout.Token);
            var answer = new byte[4];
            var read = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
            return read > 0 && answer[0] == 0x20;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset)
        {
            return false;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Opens <paramref name="count"/> TCP connections and sends nothing (or, with <paramref name="dribble"/>,
    /// one byte of it every <paramref name="dribbleEvery"/>), holding each for <paramref name="hold"/>:
    /// how many the gateway closed in that time.
    /// </summary>
    public static async Task<HeldOutcome> HoldAsync(IPEndPoint target, IReadOnlyList<IPAddress> sources, int count, TimeSpan hold, byte[]? dribble = null, TimeSpan dribbleEvery = default)
    {
        int opened = 0, closed = 0, open = 0, failed = 0;
        using var stop = new CancellationTokenSource(hold);
        async Task One(int i)
        {
            using var socket = Dial(sources[i % sources.Count]);
            try
            {
                await socket.ConnectAsync(target, stop.Token);
                Interlocked.Increment(ref opened);
                var reading = WaitForCloseAsync(socket, stop.Token);
                for (var sent = 0; dribble is not null && sent < dribble.Length && !reading.IsCompleted; sent++)
                {
                    await socket.SendAsync(dribble.AsMemory(sent, 1), SocketFlags.None, stop.Token);
                    await Task.WhenAny(reading, Task.Delay(dribbleEvery, stop.Token));
                }
                if (await reading) Interlocked.Increment(ref closed);
                else Interlocked.Increment(ref open);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref open);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
            {
                Interlocked.Increment(ref closed);
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref failed);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, count).Select(One));
        return new HeldOutcome(opened, closed, open, failed);
    }

    /// <summary>The first bytes of a WebSocket handshake to <c>/mqtt</c>, never finished.</summary>
    public static byte[] SlowHandshake { get; } = Encoding.ASCII.GetBytes(
        "GET /mqtt HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Padding: " + new string('x', 200));

    /// <summary>True when the gateway closed the connection (anything it sends first, a 408, is read and ignored); false when <paramref name="stop"/> came first.</summary>
    private static async Task<bool> WaitForCloseAsync(Socket socket, CancellationToken stop)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static Socket Dial(IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        return socket;
    }

    /// <summary><paramref name="count"/> addresses from <paramref name="first"/> on (127.0.1.1, 127.0.1.2, ...).</summary>
    public static IReadOnlyList<IPAddress> Addresses(IPAddress first, int count)
    {
        var start = BitConverter.ToUInt32(first.GetAddressBytes().Reverse().ToArray());
        return [.. Enumerable.Range(0, count).Select(i => new IPAddress(BitConverter.GetBytes(start + (uint)i).Reverse().ToArray()))];
    }
}
