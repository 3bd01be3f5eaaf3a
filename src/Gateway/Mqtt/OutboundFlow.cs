using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.Mqtt;

/// <summary>What happens to a PUBLISH on its way to a client.</summary>
internal enum OutboundVerdict
{
    /// <summary>Goes out now, as prepared (time left, topic alias, no gateway stamp).</summary>
    Send,

    /// <summary>Waits for room in the client's Receive Maximum; the flow sends it itself later.</summary>
    Deferred,

    /// <summary>Its Message Expiry Interval passed while it waited in the gateway [MQTT-3.3.2-5].</summary>
    Expired,

    /// <summary>Larger than the client's Maximum Packet Size: discarded as if sent [MQTT-3.1.2-25].</summary>
    TooLarge,
}

/// <summary>
/// One connection's outgoing PUBLISHes, as the client asked for in its CONNECT: no more unacknowledged QoS 1/2
/// PUBLISHes than its Receive Maximum [MQTT-3.3.4-9], none larger than its Maximum Packet Size
/// [MQTT-3.1.2-24], topic aliases up to its Topic Alias Maximum [MQTT-3.3.2-9], and the expiry time left.
/// </summary>
/// <remarks>
/// MQTTnet's send loop writes each queued packet as soon as it is dequeued, and one packet held in its
/// outbound interceptor would hold every other one behind it (the PUBACKs of the client's own publishes,
/// PINGRESP, and the PUBREL the client's PUBCOMP waits for). So a PUBLISH that finds the window full is not
/// held there: it is taken out of the send loop and kept here, in order, and this flow writes it through the
/// connection's channel adapter itself once an acknowledgement makes room (<see cref="PumpAsync"/>). MQTTnet
/// still counts it unacknowledged under its own packet identifier, so the client's ack completes it there
/// as usual, and a persistent session that ends before it went out gets it again on resumption. While any
/// PUBLISH waits here, later ones queue behind it, so the client receives them in the order MQTTnet sent them,
/// and topic aliases are assigned in the order they go out.
/// </remarks>
internal sealed class OutboundFlow
{
    /// <summary>
    /// PUBLISHes that may wait here before the send loop is held for room: beyond it, MQTTnet's own
    /// per-client queue takes the excess, where its overflow policy (MaxPendingMessagesPerClient) applies.
    /// </summary>
    public const int DeferredLimit = 1_000;

    /// <summary>
    /// The longest the send loop is held when <see cref="DeferredLimit"/> is reached: bounded, since the
    /// client may be waiting for an ack held behind it before it acknowledges anything.
    /// </summary>
    public static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly IMqttChannelAdapter _channel;
    private readonly InFlightWindow? _window;
    private readonly TopicAliasTable? _aliases;
    private readonly uint _maximumPacketSize;
    private readonly MqttPacketFormatterAdapter? _sizer;
    private readonly Action<OutboundVerdict, MqttPublishPacket, int> _discarded;
    private readonly TimeProvider _clock;
    private readonly Action? _aliasAssigned;
    private readonly Queue<MqttPublishPacket> _deferred = new();
    private TaskCompletionSource _progress = NewSignal();
    private bool _pumping;

    /// <param name="channel">The connection's adapter, for PUBLISHes sent after waiting here.</param>
    /// <param name="limits">What the client's CONNECT asked for (all 0 on MQTT 3.1.1: no limit, no aliases).</param>
    /// <param name="discarded">Told of each PUBLISH not sent, with its encoded size for one too large.</param>
    /// <param name="aliasAssigned">Told of each topic alias assigned (to count them).</param>
    public OutboundFlow(IMqttChannelAdapter channel, ClientLimits limits, Action<OutboundVerdict, MqttPublishPacket, int> discarded,
        Action? aliasAssigned = null, TimeProvider? clock = null)
    {
        _aliasAssigned = aliasAssigned;
        _channel = channel;
        _discarded = discarded;
        _clock = clock ?? TimeProvider.System;
        if (limits.ReceiveMaximum is > 0 and < InFlightWindow.Unlimited) _window = new InFlightWindow(limits.ReceiveMaximum);
        if (limits.TopicAliasMaximum > 0) _aliases = new TopicAliasTable(limits.TopicAliasMaximum);
        _maximumPacketSize = limits.MaximumPacketSize;
        // Only to measure packets, never to write them: MQTT 3.1.1 has no Maximum Packet Size.
        if (_maximumPacketSize > 0) _sizer = new MqttPacketFormatterAdapter(MqttProtocolVersion.V500, new MqttBufferWriter(4096, 65536));
    }

    /// <summary>The connection's token, for the PUBLISHes this flow sends itself; set from the first one.</summary>
    public CancellationToken Connection { get; set; }

    /// <summary>Whether a too-large discard has been logged for this connection (logged once per client).</summary>
    public bool TooLargeLogged { get; set; }

    public int DeferredCount
    {
        get { lock (_gate) return _deferred.Count; }
    }

    /// <summary>
    /// Decides a PUBLISH in MQTTnet's send loop: sent now as <paramref name="prepared"/>, or kept to send later,
    /// or discarded. Waits (at most <see cref="HoldLimit"/>) only when <see cref="DeferredLimit"/> are waiting.
    /// </summary>
    public async ValueTask<(OutboundVerdict Verdict, MqttPublishPacket? Prepared)> LeavingAsync(MqttPublishPacket publish, CancellationToken cancellationToken)
    {
        if (DeferredCount >= DeferredLimit) await WaitForProgressAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_deferred.Count == 0 && TryTakeSlot(publish))
            {
                var (verdict, prepared, size) = Prepare(publish, _clock.GetUtcNow());
                if (verdict == OutboundVerdict.Send) return (verdict, prepared);
                _window?.Release(publish.PacketIdentifier);
                _discarded(verdict, publish, size);
                return (verdict, null);
            }
            _deferred.Enqueue(publish);
            if (!_pumping)
            {
                _pumping = true;
                _ = Task.Run(PumpAsync, CancellationToken.None);
            }
            return (OutboundVerdict.Deferred, null);
        }
    }

    /// <summary>A PUBACK, PUBCOMP, or PUBREC with a failure code from the client: its PUBLISH's slot is free again (section 4.9).</summary>
    public void Acknowledged(ushort packetId)
    {
        if (_window is null) return;
        lock (_gate)
        {
            if (_window.Release(packetId)) Signal();
        }
    }

    private bool TryTakeSlot(MqttPublishPacket publish) =>
        publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce || _window is null || _window.TryTake(publish.PacketIdentifier);

    /// <summary>Sends what waits here, in order, as acknowledgements make room; ends when nothing waits or the connection ends.</summary>
    private async Task PumpAsync()
    {
        try
        {
            while (true)
            {
                MqttPublishPacket? next = null;
                Task progress;
                lock (_gate)
                {
                    if (_deferred.Count == 0)
                    {
                        _pumping = false;
                        return;
                    }
                    progress = _progress.Task;
                    var head = _deferred.Peek();
                    if (TryTakeSlot(head))
                    {
                        var (verdict, prepared, size) = Prepare(head, _clock.GetUtcNow());
                        if (verdict == OutboundVerdict.Send) next = prepared;
                        else
                        {
                            _deferred.Dequeue();
                            _window?.Release(head.PacketIdentifier);
                            _discarded(verdict, head, size);
                            continue;
                        }
                    }
                }
                if (next is null)
                {
                    await progress.WaitAsync(Connection).ConfigureAwait(false);
                    continue;
                }
                // Still at the head while it is written: the send loop queues anything newer behind it.
                await _channel.SendPacketAsync(next, Connection).ConfigureAwait(false);
                lock (_gate)
                {
                    _deferred.Dequeue();
                    Signal();
                }
            }
        }
        catch (Exception)
        {
            // The connection ended (cancelled, reset, disposed). What waited here is lost only for QoS 0:
            // MQTTnet still holds the others unacknowledged, for the session's next connection.
            lock (_gate)
            {
                _deferred.Clear();
                _pumping = false;
                Signal();
            }
        }
    }

    private async Task WaitForProgressAsync(CancellationToken cancellationToken)
    {
        Task progress;
        lock (_gate) progress = _progress.Task;
        try
        {
            await progress.WaitAsync(HoldLimit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Queued here all the same, beyond the limit, rather than risk holding an ack the client waits for.
        }
    }

    /// <summary>
    /// The packet to write: MQTTnet's own is left as it is (it may be sent again on a later connection,
    /// where neither the alias nor the time left would hold), so a changed one is a copy.
    /// </summary>
    private (OutboundVerdict, MqttPublishPacket?, int) Prepare(MqttPublishPacket publish, DateTimeOffset now)
    {
        var interval = publish.MessageExpiryInterval;
        if (interval > 0 && MessageExpiry.EnteredAt(publish.UserProperties) is { } enteredAt
            && !MessageExpiry.TryRemaining(interval, enteredAt, now, out interval))
        {
            return (OutboundVerdict.Expired, null, 0);
        }
        var properties = MessageExpiry.WithoutStamp(publish.UserProperties);
        var unchanged = interval == publish.MessageExpiryInterval && ReferenceEquals(properties, publish.UserProperties);
        if (unchanged && _aliases is null && _sizer is null) return (OutboundVerdict.Send, publish, 0);

        var packet = Copy(publish, interval, properties);
        string? assigned = null;
        if (_aliases is not null && !string.IsNullOrEmpty(packet.Topic))
        {
            if (_aliases.TryGet(packet.Topic, out var known))
            {
                packet.TopicAlias = known;
                packet.Topic = string.Empty; // the alias stands for it [MQTT-3.3.2-12]
            }
            else
            {
                packet.TopicAlias = _aliases.Assign(packet.Topic); // the topic and its new alias, together
                assigned = packet.Topic;
            }
        }
        if (_sizer is not null)
        {
            var size = SizeOf(packet);
            if (size > _maximumPacketSize)
            {
                if (assigned is not null) _aliases!.Forget(assigned); // the client never learnt it
                return (OutboundVerdict.TooLarge, null, size);
            }
        }
        if (assigned is not null) _aliasAssigned?.Invoke();
        return (OutboundVerdict.Send, packet, 0);
    }

    private int SizeOf(MqttPublishPacket packet)
    {
        try
        {
            return _sizer!.Encode(packet).Length;
        }
        finally
        {
            _sizer!.Cleanup();
        }
    }

    private static MqttPublishPacket Copy(MqttPublishPacket p, uint expiryInterval, List<MqttUserProperty>? userProperties) => new()
    {
        PacketIdentifier = p.PacketIdentifier,
        Topic = p.Topic,
        Payload = p.Payload,
        QualityOfServiceLevel = p.QualityOfServiceLevel,
        Retain = p.Retain,
        Dup = p.Dup,
        ContentType = p.ContentType,
        CorrelationData = p.CorrelationData,
        MessageExpiryInterval = expiryInterval,
        PayloadFormatIndicator = p.PayloadFormatIndicator,
        ResponseTopic = p.ResponseTopic,
        SubscriptionIdentifiers = p.SubscriptionIdentifiers,
        UserProperties = userProperties,
    };

    private void Signal()
    {
        _progress.TrySetResult();
        _progress = NewSignal();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>What a client's CONNECT asked of the server's PUBLISHes (MQTT 5, section 3.1.2.11); 0 means the property was absent.</summary>
internal readonly record struct ClientLimits(ushort ReceiveMaximum, uint MaximumPacketSize, ushort TopicAliasMaximum);
