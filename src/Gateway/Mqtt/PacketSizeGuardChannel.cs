using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Gateway.Core.Diagnostics;
using Gateway.Limits;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// One client connection (TCP or WebSocket) as MQTTnet reads it, with every inbound byte shown to a
/// <see cref="MqttFixedHeaderGuard"/> before MQTTnet gets it. MQTTnet reserves a packet's declared
/// size as soon as its header is read (a 15-byte header can ask for 256 MiB); a refused header ends
/// the stream there instead, so MQTTnet sees the connection closed and reserves nothing.
/// </summary>
internal sealed partial class PacketSizeGuardChannel : IMqttChannel
{
    /// <summary>How long the DISCONNECT of a refused packet may wait behind a send in progress: the connection closes either way.</summary>
    private static readonly TimeSpan DisconnectTimeout = TimeSpan.FromSeconds(2);

    private readonly IMqttChannel _inner;
    private readonly MqttFixedHeaderGuard _guard;
    private readonly ILogger _logger;
    private readonly LimitLog _limitLog;
    private MqttChannelAdapter? _adapter;
    private bool _refused;

    private PacketSizeGuardChannel(IMqttChannel inner, MqttPacketLimits limits, ILogger logger, LimitLog limitLog)
    {
        _inner = inner;
        _guard = new MqttFixedHeaderGuard(limits);
        _logger = logger;
        _limitLog = limitLog;
    }

    public X509Certificate2 ClientCertificate => _inner.ClientCertificate;

    public EndPoint RemoteEndPoint => _inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => _inner.LocalEndPoint;

    public bool IsSecureConnection => _inner.IsSecureConnection;

    /// <summary>The adapter MQTTnet's server runs a connection with, reading through a guard.</summary>
    /// <param name="limitLog">Where a packet over the size limit is counted (and its log line rate-limited).</param>
    public static MqttChannelAdapter Open(IMqttChannel inner, MqttPacketLimits limits, MqttServerOptions options, ILogger logger, IMqttNetLogger mqttLogger, LimitLog limitLog)
    {
        var guarded = new PacketSizeGuardChannel(inner, limits, logger, limitLog);
        var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        var adapter = new MqttChannelAdapter(guarded, formatter, mqttLogger);
        guarded._adapter = adapter;
        return adapter;
    }

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (_refused) return 0;
        var read = await _inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
        if (_guard.Inspect(buffer.AsSpan(offset, read)) is not { } refusal) return read;

        _refused = true;
        if (refusal.Cause == MqttRefusalCause.TooLarge)
            _limitLog.Exceeded(LimitReasons.MqttPacketTooLarge, RemoteEndPoint?.ToString() ?? "?", $"sent {refusal.Describe()}: connection closed before reading it");
        else
            LogRefused(RemoteEndPoint?.ToString() ?? "?", refusal.Describe());
        await TryDisconnectAsync(refusal).ConfigureAwait(false);
        return 0; // end of stream: MQTTnet ends the connection as if the client had closed it
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public Task ConnectAsync(CancellationToken cancellationToken) => _inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => _inner.DisconnectAsync(cancellationToken);

    public void Dispose() => _inner.Dispose();

    /// <summary>
    /// MQTT 5 lets the server say why before it closes (section 4.13: DISCONNECT with 0x95 Packet too
    /// large, or 0x81 Malformed Packet). Only once the protocol level is known: a packet after the
    /// CONNECT, which MQTTnet reads only after its CONNACK went out. MQTT 3.1.1 has no server DISCONNECT.
    /// </summary>
    private async Task TryDisconnectAsync(MqttPacketRefusal refusal)
    {
        if (_adapter is not { PacketFormatterAdapter.ProtocolVersion: MqttProtocolVersion.V500 } adapter) return;
        var packet = new MqttDisconnectPacket
        {
            ReasonCode = refusal.Violation?.Code
                ?? (refusal.Cause == MqttRefusalCause.TooLarge ? MqttDisconnectReasonCode.PacketTooLarge : MqttDisconnectReasonCode.MalformedPacket),
            ReasonString = refusal.Describe(),
        };
        using var timeout = new CancellationTokenSource(DisconnectTimeout);
        try
        {
            // Through the adapter, so it waits for (never interleaves with) a packet being sent.
            await adapter.SendPacketAsync(packet, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException)
        {
            // The client does not read, or is gone: closing is all that is left.
        }
    }

    [LoggerMessage(EventIds.MqttPacketRefused, LogLevel.Warning,
        "MQTT client {Remote} sent {Refused}: connection closed before reading it")]
    private partial void LogRefused(string remote, string refused);
}
