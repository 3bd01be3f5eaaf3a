using System.Net.Sockets;
using static Gateway.TestUtilities.MqttPacketBytes;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>One packet the gateway sent: its type byte and body.</summary>
internal readonly record struct RawMqttPacket(byte TypeAndFlags, byte[] Body)
{
    public int Type => TypeAndFlags >> 4;

    public override string ToString() => $"{TypeAndFlags:X2} {Convert.ToHexString(Body)}";
}

/// <summary>
/// An MQTT connection as bytes on a TCP socket: sends anything, and reads the gateway's packets one
/// by one, so a test sees exactly what came back (an ack, a DISCONNECT and its reason code) and the close.
/// </summary>
internal sealed class RawMqttClient : IAsyncDisposable
{
    public const int ConnAck = 2;
    public const int PubAck = 4;
    public const int SubAck = 9;
    public const int UnsubAck = 11;
    public const int Disconnect = 14;

    private readonly Socket _socket = new(System.Net.Sockets.AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawMqttClient()
    {
    }

    /// <summary>The client's end as the gateway's log names it.</summary>
    public string LocalEndPoint => _socket.LocalEndPoint!.ToString()!;

    /// <summary>Connects with a CONNECT of <paramref name="version"/> (4 = 3.1.1, 5 = 5.0) and waits for a CONNACK that accepts it.</summary>
    /// <param name="from">The client's own address (127.0.0.2, say, to be another source than 127.0.0.1); default: the system's choice.</param>
    public static async Task<RawMqttClient> OpenAsync(int port, int version, string clientId, System.Net.IPAddress? from = null)
    {
        var connection = await DialAsync(port, from);
        await connection.SendAsync(Connect(version, clientId));
        var connAck = await connection.ReceiveAsync(Patience.Reaction);
        Assert.True(connAck is { Type: ConnAck } && connAck.Value.Body[1] == 0, $"the CONNECT was not accepted: {connAck}");
        return connection;
    }

    /// <summary>A TCP connection to <paramref name="port"/> from <paramref name="from"/>, nothing sent yet.</summary>
    public static async Task<RawMqttClient> DialAsync(int port, System.Net.IPAddress? from = null)
    {
        var connection = new RawMqttClient();
        if (from is not null) connection._socket.Bind(new System.Net.IPEndPoint(from, 0));
        await connection._socket.ConnectAsync("127.0.0.1", port);
        return connection;
    }

    public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes);

    /// <summary>The next packet, or null once the gateway has closed the connection; fails after <paramref name="wait"/>.</summary>
    public async Task<RawMqttPacket?> ReceiveAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            if (!await FillAsync(2, timeout.Token)) return null;
            var lengthBytes = 1;
            while ((_buffer[_start + lengthBytes] & 0x80) != 0)
            {
                lengthBytes++;
                if (!await FillAsync(1 + lengthBytes, timeout.Token)) return null;
            }
            var length = 0;
            for (var i = lengthBytes; i >= 1; i--) length = (length << 7) | (_buffer[_start + i] & 0x7F);
            if (!await FillAsync(1 + lengthBytes + length, timeout.Token)) return null;
            var packet = new RawMqttPacket(_buffer[_start], _buffer.AsSpan(_start + 1 + lengthBytes, length).ToArray());
            _start += 1 + lengthBytes + length;
            return packet;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the gateway neither sent a packet nor closed the connection within {wait}");
        }
    }

    /// <summary>Every packet the gateway sends until it closes the connection, which it must within <paramref name="wait"/>.</summary>
    public async Task<IReadOnlyList<RawMqttPacket>> PacketsUntilClosedAsync(TimeSpan wait)
    {
        var packets = new List<RawMqttPacket>();
        try
        {
            while (await ReceiveAsync(wait) is { } packet) packets.Add(packet);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the gateway sent [{string.Join(", ", packets)}] and did not close the connection within {wait}");
        }
        return packets;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>True once <paramref name="count"/> unread bytes are buffered; false if the connection closed first.</summary>
    private async Task<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (_start > 0 && _buffer.Length - _start < count)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            (_end, _start) = (_end - _start, 0);
        }
        while (_end - _start < count)
        {
            int read;
            try
            {
                read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return false;
            }
            if (read == 0) return false;
            _end += read;
        }
        return true;
    }
}
