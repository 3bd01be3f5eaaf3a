using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using MQTTnet.Implementations;

namespace Gateway.Mqtt;

/// <summary>
/// MQTT over a WebSocket, read so that an empty data frame is not taken for the end of the connection.
/// MQTTnet's <see cref="MqttWebSocketChannel"/> returns the frame's byte count, and 0 means "closed" to
/// its reader; MQTT.js writes a CONNECT with an empty client id as several frames, the last one empty,
/// so its connection was closed right after the CONNACK. MQTT-6.0.0-2: frames need not align with packets.
/// </summary>
internal sealed class WebSocketDataChannel(WebSocket webSocket, MqttWebSocketChannel inner) : IMqttChannel
{
    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    /// <summary>The next bytes of data; 0 only when the client closed the WebSocket.</summary>
    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await webSocket.ReceiveAsync(new ArraySegment<byte>(buffer, offset, count), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close || result.Count > 0) return result.Count;
        }
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public void Dispose() => inner.Dispose();
}
