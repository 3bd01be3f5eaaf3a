using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Gateway.Core.Diagnostics;
using Gateway.Security;
using Gateway.Limits;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// MQTT over TCP, and over TLS when given a <see cref="TlsHandshake"/>. It stands in for MQTTnet's own
/// TCP listener, which builds its channels inside and so cannot put a <see cref="PacketSizeGuardChannel"/>
/// in front of them; this one does, for every connection, over the decrypted bytes.
/// </summary>
internal sealed partial class MqttTcpTransport(IPAddress address, int port, MqttPacketLimits limits, MqttConnectPolicy connect, ConnectionCount connections, MqttLimits guard, ILogger logger, TlsHandshake? tls = null)
    : IMqttServerAdapter
{
    /// <summary>Connections the kernel queues before they are accepted; MQTTnet's listener used the same.</summary>
    private const int Backlog = 100;

    /// <summary>A failing accept (out of file descriptors) is retried after this, not in a tight loop.</summary>
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private MqttServerOptions? _options;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>Listening and its accept loop running (for <c>/healthz</c>): false before start, after stop, or if the loop ended.</summary>
    public bool Accepting => _listener is not null && !_accepting.IsCompleted;

    /// <summary>Binds now, so a port in use fails the server's start (and so the host's) with the cause.</summary>
    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _options = options;
        _mqttLogger = logger;
        _listener = Bind(address, port);
        _accepting = Task.Run(() => AcceptAsync(_listener, _stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        await _accepting.ConfigureAwait(false);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
    }

    /// <summary>
    /// 0.0.0.0 is every interface: one dual-mode socket takes IPv4 and IPv6 clients, as MQTTnet's
    /// listener pair did; a particular address is listened on alone.
    /// </summary>
    private static Socket Bind(IPAddress address, int port)
    {
        if (address.Equals(IPAddress.Any) && Socket.OSSupportsIPv6)
        {
            var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
            if (TryListen(dual, new IPEndPoint(IPAddress.IPv6Any, port), out var refused)) return dual;
            if (refused.SocketErrorCode != SocketError.AddressFamilyNotSupported) throw refused;
        }
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (!TryListen(socket, new IPEndPoint(address, port), out var error)) throw error;
        return socket;
    }

    private static bool TryListen(Socket socket, IPEndPoint endpoint, out SocketException error)
    {
        try
        {
            socket.Bind(endpoint);
            socket.Listen(Backlog);
            error = null!;
            return true;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            error = ex;
            return false;
        }
    }

    private async Task AcceptAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return; // the listening socket was closed
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionAborted)
            {
                continue; // the client gave up before it was accepted
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(ex.SocketErrorCode, ex.Message);
                try { await Task.Delay(AcceptRetryDelay, stopping).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            // Gateway:Limits, before any protocol work: a refused connection is closed at once.
            if (guard.Connections.TryAdmit((client.RemoteEndPoint as IPEndPoint)?.Address, "MQTT") is not { } lease)
            {
                client.Dispose();
                continue;
            }
            _ = Task.Run(() => ServeAsync(client, lease), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, IDisposable lease)
    {
        using var counted = connections.Open();
        using var admitted = lease;
        try
        {
            client.NoDelay = true; // acks go out as soon as they are known, not after a Nagle delay
            Stream stream = new NetworkStream(client, ownsSocket: true);
            X509Certificate2? clientCertificate = null;
            if (tls is not null)
            {
                if (await tls.AuthenticateAsync(stream, client.RemoteEndPoint).ConfigureAwait(false) is not { } ssl) return;
                stream = ssl;
                // Validated in the handshake against Gateway:Tls:ClientCertificateCaFile; MQTTnet hands it on
                // as ValidatingConnectionEventArgs.ClientCertificate, whose CN is the user (ClientCertificateCheck.UserOf).
                clientCertificate = ssl.RemoteCertificate as X509Certificate2;
            }
            await using (stream.ConfigureAwait(false))
            {
                var channel = new MqttTcpChannel(stream, client.LocalEndPoint, client.RemoteEndPoint, clientCertificate);
                using var adapter = PacketSizeGuardChannel.Open(channel, limits, _options!, logger, _mqttLogger, guard.Log);
                if (ClientHandler is { } handler) await handler(new MqttConnectAdapter(adapter, connect, guard, logger)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsConnectionEnd(ex))
        {
            // The connection ended under MQTTnet's feet (a reset, a shutdown): nothing is owed to it.
        }
        catch (Exception ex)
        {
            // Nobody awaits this task: the log is the only place an unexpected fault can surface.
            LogConnectionFailed(ex);
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>
    /// How a connection ends when the client goes away while MQTTnet still reads or says goodbye: a
    /// reset, or (MQTTnet's closing DISCONNECT meeting a WebSocket closed without a handshake) a
    /// communication exception. MQTTnet's server lets the latter escape its connection handler.
    /// </summary>
    internal static bool IsConnectionEnd(Exception ex) =>
        ex is IOException or SocketException or WebSocketException or ObjectDisposedException or OperationCanceledException
            or MQTTnet.Exceptions.MqttCommunicationException;

    [LoggerMessage(EventIds.MqttAcceptFailed, LogLevel.Warning, "MQTT listener could not accept a connection ({Error}: {Message}); retrying")]
    private partial void LogAcceptFailed(SocketError error, string message);

    [LoggerMessage(EventIds.MqttConnectionFailed, LogLevel.Error, "An MQTT connection failed unexpectedly")]
    private partial void LogConnectionFailed(Exception exception);
}

/// <summary>MQTT over WebSocket: the <c>/mqtt</c> endpoint hands each accepted WebSocket here, read through a <see cref="PacketSizeGuardChannel"/>.</summary>
internal sealed class MqttWebSocketTransport(MqttPacketLimits limits, MqttConnectPolicy connect, ConnectionCount connections, MqttLimits guard, ILogger logger) : IMqttServerAdapter
{
    private MqttServerOptions? _options;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _options = options;
        _mqttLogger = logger;
        return Task.CompletedTask;
    }

    public Task StopAsync() => Task.CompletedTask;

    public void Dispose()
    {
    }

    /// <summary>Runs one MQTT connection until it ends; returns at once when the server has not started.</summary>
    public async Task RunWebSocketConnectionAsync(WebSocket webSocket, HttpContext context)
    {
        if (ClientHandler is not { } handler || _options is null) return;
        using var counted = connections.Open();
        var remote = context.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, context.Connection.RemotePort) : null;
        var channel = new WebSocketDataChannel(webSocket, new MqttWebSocketChannel(webSocket, remote, context.Request.IsHttps, clientCertificate: null));
        using var adapter = PacketSizeGuardChannel.Open(channel, limits, _options, logger, _mqttLogger, guard.Log);
        try
        {
            await handler(new MqttConnectAdapter(adapter, connect, guard, logger)).ConfigureAwait(false);
        }
        catch (Exception ex) when (MqttTcpTransport.IsConnectionEnd(ex))
        {
            // The client closed without the WebSocket close handshake (MQTTnet's own client does): the connection is over all the same.
        }
    }
}
