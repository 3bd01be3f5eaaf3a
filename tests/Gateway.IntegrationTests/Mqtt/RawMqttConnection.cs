using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// MQTT as bytes on a TCP socket, for what no client library will send (an empty client id with clean
/// session off) or lets a test see (a CONNACK's properties, a silence until the server closes).
/// </summary>
internal sealed class RawMqttConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawMqttConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public static async Task<RawMqttConnection> OpenAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", port);
        return new RawMqttConnection(socket);
    }

    /// <summary>
    /// A CONNECT: <paramref name="level"/> 4 is MQTT 3.1.1, 5 is MQTT 5.0 (with <paramref name="sessionExpiry"/>
    /// as its only property when given); <paramref name="cleanSession"/> is clean start on 5.0.
    /// </summary>
    public static byte[] Connect(byte level, bool cleanSession, ushort keepAliveSeconds, string clientId, uint? sessionExpiry = null)
    {
        var body = new List<byte> { 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', level, (byte)(cleanSession ? 0x02 : 0x00) };
        body.AddRange([(byte)(keepAliveSeconds >> 8), (byte)keepAliveSeconds]);
        if (level == 5)
        {
            if (sessionExpiry is { } expiry) body.AddRange([0x05, 0x11, (byte)(expiry >> 24), (byte)(expiry >> 16), (byte)(expiry >> 8), (byte)expiry]);
            else body.Add(0x00);
        }
        var id = Encoding.UTF8.GetBytes(clientId);
        body.AddRange([(byte)(id.Length >> 8), (byte)id.Length]);
        body.AddRange(id);
        return [0x10, (byte)body.Count, .. body];
    }

    public static readonly byte[] PingReq = [0xC0, 0x00];

    public async Task SendAsync(byte[] packet) => await _stream.WriteAsync(packet);

    /// <summary>The next packet (its first byte and its body), or null when the server closed the connection.</summary>
    public async Task<(byte Type, byte[] Body)?> ReadPacketAsync(TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        var first = new byte[1];
        if (await ReadOrEndAsync(first, deadline.Token) == 0) return null;
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            var next = new byte[1];
            if (await ReadOrEndAsync(next, deadline.Token) == 0) return null;
            length |= (next[0] & 0x7F) << shift;
            if ((next[0] & 0x80) == 0) break;
        }
        var body = new byte[length];
        if (length > 0) await _stream.ReadExactlyAsync(body, deadline.Token);
        return (first[0], body);
    }

    /// <summary>A reset counts as a close: the server may close with bytes of ours still unread.</summary>
    private async Task<int> ReadOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _stream.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException ex) when (ex.InnerException is SocketException)
        {
            return 0;
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }

    /// <summary>The MQTT 5 properties of a CONNACK body (flags, reason code, properties), by identifier.</summary>
    public static Dictionary<byte, object> ConnAckProperties(byte[] body)
    {
        var properties = new Dictionary<byte, object>();
        var offset = 2;
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = body[offset++];
            length |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        var end = offset + length;
        while (offset < end)
        {
            var id = body[offset++];
            switch (id)
            {
                case 0x11 or 0x27: // session expiry, maximum packet size
                    properties[id] = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(offset));
                    offset += 4;
                    break;
                case 0x13 or 0x21 or 0x22: // server keep alive, receive maximum, topic alias maximum
                    properties[id] = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
                    offset += 2;
                    break;
                case 0x24 or 0x25 or 0x28 or 0x29 or 0x2A: // maximum QoS and the availability flags
                    properties[id] = body[offset++];
                    break;
                case 0x12 or 0x1F or 0x1A or 0x1C or 0x15 or 0x16: // strings and binary data
                    properties[id] = ReadString(body, ref offset);
                    break;
                case 0x26: // a user property: two strings
                    ReadString(body, ref offset);
                    ReadString(body, ref offset);
                    break;
                default:
                    throw new InvalidDataException($"CONNACK property 0x{id:x2} is not one this test reads");
            }
        }
        return properties;
    }

    private static string ReadString(byte[] body, ref int offset)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
        var text = Encoding.UTF8.GetString(body, offset + 2, length);
        offset += 2 + length;
        return text;
    }
}
