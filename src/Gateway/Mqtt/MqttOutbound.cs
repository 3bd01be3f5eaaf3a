using System.Net;
using System.Runtime.CompilerServices;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// What the gateway sends to subscribing clients, built around MQTTnet's interceptors: each connection's
/// <see cref="OutboundFlow"/> (Receive Maximum, Maximum Packet Size, topic aliases) and message expiry
/// (<see cref="MessageExpiry"/>). MQTTnet 5.2 itself sends whatever is queued, at once, as it was published.
/// </summary>
internal sealed partial class MqttOutbound(GatewayOptions options, GatewayMetrics metrics, ILogger<MqttOutbound> logger)
{
    /// <summary>
    /// Each connection's flow, by its remote end point: the one object MQTTnet hands to the connection's
    /// validation and to every interceptor of its packets. The entry goes when the connection does.
    /// </summary>
    private readonly ConditionalWeakTable<EndPoint, OutboundFlow> _flows = new();

    /// <summary>
    /// QoS 1/2 PUBLISHes discarded once: MQTTnet keeps them unacknowledged (only the client's ack removes
    /// one, MqttSession.cs:69-80) and offers them again when a persistent session resumes
    /// (MqttSession.Recover), where they are discarded again but not counted twice.
    /// </summary>
    private readonly ConditionalWeakTable<MqttPublishPacket, object> _discarded = new();

    /// <summary>Reads what the client's CONNECT asks of the server's PUBLISHes: MQTTnet's server keeps it to itself.</summary>
    public Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (e.RemoteEndPoint is not { } remote) return Task.CompletedTask; // no key to find it by: sent as MQTTnet sends it
        if (e.ReasonCode != MqttConnectReasonCode.Success) return Task.CompletedTask; // refused: no connection to shape, nothing to forget later
        var limits = e.ProtocolVersion == MqttProtocolVersion.V500
            ? new ClientLimits(e.ReceiveMaximum, e.MaximumPacketSize, options.Mqtt.SendTopicAliases ? e.TopicAliasMaximum : (ushort)0)
            : default;
        var clientId = e.ClientId;
        _flows.AddOrUpdate(remote, new OutboundFlow(e.ChannelAdapter, limits,
            (verdict, publish, size) => Discarded(remote, clientId, verdict, publish, size),
            () => metrics.Increment("mqtt_topic_aliases_assigned_total")));
        return Task.CompletedTask;
    }

    /// <summary>Stamps a message MQTTnet delivers as it arrived (QoS 0, a will) with the time it entered.</summary>
    /// <remarks>Registered after <see cref="MqttIngest.OnPublishAsync"/>: only what it lets MQTTnet deliver.</remarks>
    public Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        // Injected ones were stamped with the time they were stored (MqttListenerService.DeliverAsync).
        if (e.ProcessPublish && !e.SessionItems.Contains(MqttListenerService.InjectedItem)) MessageExpiry.Stamp(e.ApplicationMessage, DateTimeOffset.UtcNow);
        return Task.CompletedTask;
    }

    /// <summary>A message that expired before it is queued for a client (a retained one, say) is not queued [MQTT-3.3.2-5].</summary>
    public Task OnEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!MessageExpiry.HasExpired(e.ApplicationMessage, DateTimeOffset.UtcNow)) return Task.CompletedTask;
        e.AcceptEnqueue = false;
        metrics.Increment("mqtt_messages_expired_total");
        return Task.CompletedTask;
    }

    /// <summary>Frees a slot of the client's Receive Maximum for each acknowledgement that ends a delivery (section 4.9).</summary>
    public Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        ushort? completed = e.Packet switch
        {
            MqttPubAckPacket ack => ack.PacketIdentifier,
            MqttPubCompPacket comp => comp.PacketIdentifier,
            MqttPubRecPacket { ReasonCode: >= MqttPubRecReasonCode.UnspecifiedError } refused => refused.PacketIdentifier,
            _ => null,
        };
        if (completed is { } packetId && e.RemoteEndPoint is { } remote && _flows.TryGetValue(remote, out var flow)) flow.Acknowledged(packetId);
        return Task.CompletedTask;
    }

    /// <summary>Each PUBLISH to a client, in MQTTnet's send loop: sent as prepared, kept for later, or discarded.</summary>
    public async Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is not MqttPublishPacket publish || !e.ProcessPacket) return;
        if (e.RemoteEndPoint is not { } remote || !_flows.TryGetValue(remote, out var flow)) return;
        flow.Connection = e.CancellationToken;
        var (verdict, prepared) = await flow.LeavingAsync(publish, e.CancellationToken).ConfigureAwait(false);
        if (verdict == OutboundVerdict.Send) e.Packet = prepared!;
        else e.ProcessPacket = false;
        if (verdict == OutboundVerdict.Deferred) metrics.Increment("mqtt_publishes_deferred_total");
    }

    private void Discarded(EndPoint remote, string clientId, OutboundVerdict verdict, MqttPublishPacket publish, int size)
    {
        if (!_discarded.TryAdd(publish, verdict)) return;
        if (verdict == OutboundVerdict.Expired)
        {
            metrics.Increment("mqtt_messages_expired_total");
            return;
        }
        metrics.Increment("mqtt_publishes_too_large_for_client_total");
        if (!_flows.TryGetValue(remote, out var flow) || flow.TooLargeLogged) return;
        flow.TooLargeLogged = true;
        LogTooLarge(clientId, publish.Topic, size);
    }

    [LoggerMessage(EventIds.MqttTooLargeForClient, LogLevel.Warning,
        "A {Size}-byte PUBLISH to '{Topic}' exceeds the Maximum Packet Size client {ClientId} announced: discarded, as are any more for this connection (counted, not logged)")]
    private partial void LogTooLarge(string clientId, string topic, int size);
}
