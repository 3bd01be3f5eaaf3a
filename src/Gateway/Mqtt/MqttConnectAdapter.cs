using System.Net;
using System.Security.Cryptography.X509Certificates;
using Gateway.Core.Diagnostics;
using Gateway.Limits;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.PacketInspection;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Internal;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.Mqtt;

/// <summary>
/// A connection as MQTTnet's server sees it, with the CONNECT settled first by <see cref="MqttConnectPolicy"/>:
/// an empty client id assigned one (MQTTnet refuses it on MQTT 3.1.1 and only assigns one on MQTT 5 when
/// asked), the Server Keep Alive put in place of the client's, and both told to an MQTT 5 client in CONNACK.
/// </summary>
/// <remarks>
/// MQTTnet's keep alive monitor reads the keep alive from the CONNECT packet this adapter returns, so
/// writing the server's value there is what makes it enforced (1.5 times it, MQTT-3.1.2-22).
/// </remarks>
internal sealed partial class MqttConnectAdapter(MqttChannelAdapter inner, MqttConnectPolicy policy, MqttLimits limits, ILogger logger) : IMqttChannelAdapter
{
    private PublishPacer? _pacer;
    private bool _connectRead;
    private string? _assignedClientId;
    private bool _keepAliveSet;

    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public void ResetStatistics() => inner.ResetStatistics();

    public void Dispose() => inner.Dispose();

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        if (!_connectRead) return await ReceiveConnectAsync(cancellationToken).ConfigureAwait(false);
        var packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
        // Gateway:Limits:PublishRatePerClient: the next packet is not read until this one is within the
        // rate, so a client publishing too fast is held back by TCP's flow control, and loses nothing.
        if (packet is MqttPublishPacket && _pacer is { } pacer) await pacer.WaitTurnAsync(1, cancellationToken).ConfigureAwait(false);
        return packet;
    }

    /// <summary>
    /// The first packet, within Gateway:Limits:ConnectTimeout (MQTTnet's own wait is its 100 s
    /// communication timeout, which also bounds every other send and receive).
    /// </summary>
    private async Task<MqttPacket> ReceiveConnectAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(limits.ConnectTimeout, limits.Time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        MqttPacket? packet = null;
        try
        {
            packet = await ReceiveFirstPacketAsync(either.Token).ConfigureAwait(false);
            return packet;
        }
        finally
        {
            // MQTTnet's adapter answers a cancelled read with no packet (or, on some paths, the
            // cancellation): either way its server then ends the connection.
            if (packet is null && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                limits.ConnectTimedOut(RemoteEndPoint?.ToString() ?? "?");
        }
    }

    private async Task<MqttPacket> ReceiveFirstPacketAsync(CancellationToken cancellationToken)
    {
        _connectRead = true;

        // The first packet's bytes, kept only until it is decoded: the one CONNECT MQTTnet cannot
        // decode, yet must be answered, is recognised from them.
        byte[]? firstPacket = null;
        var inspected = new AsyncEvent<InspectMqttPacketEventArgs>();
        inspected.AddHandler(e => firstPacket = e.Buffer);
        inner.PacketInspector = new MqttPacketInspector(inspected, MQTTnet.Diagnostics.Logger.MqttNetNullLogger.Instance);
        MqttPacket packet;
        try
        {
            packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MqttProtocolViolationException) when (firstPacket is not null && MqttClientIds.IsEmptyIdWithoutCleanSession(firstPacket))
        {
            await RejectIdentifierAsync(cancellationToken).ConfigureAwait(false);
            return null!; // no CONNECT: MQTTnet's server ends the connection
        }
        finally
        {
            inner.PacketInspector = null;
        }
        if (packet is MqttConnectPacket connect)
        {
            Settle(connect);
            _pacer = limits.PacerFor(() => $"client '{connect.ClientId}' from {RemoteEndPoint}");
        }
        return packet;
    }

    public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        if (packet is MqttConnAckPacket { ReasonCode: MqttConnectReasonCode.Success } connAck && PacketFormatterAdapter.ProtocolVersion == MqttProtocolVersion.V500)
        {
            // MQTT-3.1.3-7: the id it was given; MQTT-3.1.2-21: the keep alive it must use instead of its own.
            if (_assignedClientId is not null) connAck.AssignedClientIdentifier = _assignedClientId;
            if (_keepAliveSet) connAck.ServerKeepAlive = policy.ServerKeepAliveSeconds;
        }
        return inner.SendPacketAsync(packet, cancellationToken);
    }

    private void Settle(MqttConnectPacket connect)
    {
        var version = PacketFormatterAdapter.ProtocolVersion;
        if (string.IsNullOrEmpty(connect.ClientId) && policy.Assigns(version, connect.CleanSession))
        {
            _assignedClientId = MqttClientIds.NewId();
            connect.ClientId = _assignedClientId;
            LogAssigned(RemoteEndPoint?.ToString() ?? "?", _assignedClientId);
        }
        if (policy.SetsKeepAlive(version))
        {
            connect.KeepAlivePeriod = policy.ServerKeepAliveSeconds;
            _keepAliveSet = true;
        }
    }

    /// <summary>MQTT-3.1.3-8: an empty id with clean session off is answered CONNACK 0x02 (identifier rejected), then closed.</summary>
    private async Task RejectIdentifierAsync(CancellationToken cancellationToken)
    {
        LogRejected(RemoteEndPoint?.ToString() ?? "?");
        var connAck = new MqttConnAckPacket
        {
            ReturnCode = MqttConnectReturnCode.ConnectionRefusedIdentifierRejected,
            ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid,
        };
        try
        {
            await inner.SendPacketAsync(connAck, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (MqttTcpTransport.IsConnectionEnd(ex))
        {
            // Gone already: closing is all that is left.
        }
    }

    [LoggerMessage(EventIds.MqttClientIdAssigned, LogLevel.Debug, "MQTT client {Remote} connected with an empty client id: assigned {ClientId}")]
    private partial void LogAssigned(string remote, string clientId);

    [LoggerMessage(EventIds.MqttClientIdRejected, LogLevel.Warning,
        "MQTT client {Remote} connected with an empty client id and clean session off: refused with CONNACK 0x02 (MQTT-3.1.3-8)")]
    private partial void LogRejected(string remote);
}
