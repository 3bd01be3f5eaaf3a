using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Gateway.Mqtt;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.UnitTests.Mqtt;

/// <summary>One connection's PUBLISHes as the client's CONNECT asked (MQTT 5), without sockets.</summary>
public sealed class OutboundFlowTests
{
    private readonly RecordingChannel _channel = new();
    private readonly ConcurrentQueue<(OutboundVerdict Verdict, MqttPublishPacket Packet, int Size)> _discarded = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    private OutboundFlow Flow(ushort receiveMaximum = 0, uint maximumPacketSize = 0, ushort topicAliasMaximum = 0) =>
        new(_channel, new ClientLimits(receiveMaximum, maximumPacketSize, topicAliasMaximum), (v, p, s) => _discarded.Enqueue((v, p, s)), clock: _clock)
        {
            Connection = CancellationToken.None,
        };

    private static MqttPublishPacket Publish(ushort packetId, string topic = "plant/line1/temp", int payloadBytes = 4,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) => new()
    {
        PacketIdentifier = qos == MqttQualityOfServiceLevel.AtMostOnce ? (ushort)0 : packetId,
        Topic = topic,
        QualityOfServiceLevel = qos,
        Payload = new System.Buffers.ReadOnlySequence<byte>(new byte[payloadBytes]),
    };

    [Fact]
    public async Task A_third_QoS1_publish_waits_while_two_are_unacknowledged_and_goes_out_after_an_ack() // MQTT-3.3.4-9
    {
        var flow = Flow(receiveMaximum: 2);
        Assert.Equal(OutboundVerdict.Send, (await flow.LeavingAsync(Publish(1), default)).Verdict);
        Assert.Equal(OutboundVerdict.Send, (await flow.LeavingAsync(Publish(2), default)).Verdict);

        Assert.Equal(OutboundVerdict.Deferred, (await flow.LeavingAsync(Publish(3), default)).Verdict);
        Assert.Empty(_channel.Sent);

        flow.Acknowledged(1);
        await Poll.UntilAsync(() => !_channel.Sent.IsEmpty, Patience.Reaction, "the third publish sent after the ack");
        Assert.Equal([3], _channel.Sent.Select(p => (int)p.PacketIdentifier));
        Assert.Equal(0, flow.DeferredCount);
    }

    [Fact]
    public async Task Everything_after_a_waiting_publish_waits_behind_it_QoS0_too_so_the_order_holds()
    {
        var flow = Flow(receiveMaximum: 1);
        await flow.LeavingAsync(Publish(1), default);
        Assert.Equal(OutboundVerdict.Deferred, (await flow.LeavingAsync(Publish(2), default)).Verdict);
        Assert.Equal(OutboundVerdict.Deferred, (await flow.LeavingAsync(Publish(0, qos: MqttQualityOfServiceLevel.AtMostOnce), default)).Verdict);
        Assert.Equal(OutboundVerdict.Deferred, (await flow.LeavingAsync(Publish(3), default)).Verdict);

        flow.Acknowledged(1);
        await Poll.UntilAsync(() => _channel.Sent.Count == 2, Patience.Reaction, "publish 2 and the QoS 0 one");
        Assert.Equal([2, 0], _channel.Sent.Select(p => (int)p.PacketIdentifier));

        flow.Acknowledged(2);
        await Poll.UntilAsync(() => _channel.Sent.Count == 3, Patience.Reaction, "publish 3");
        Assert.Equal(3, _channel.Sent.Last().PacketIdentifier);
    }

    [Fact]
    public async Task A_failed_PUBREC_frees_the_slot_like_an_ack_and_an_unknown_ack_frees_nothing()
    {
        var flow = Flow(receiveMaximum: 1);
        await flow.LeavingAsync(Publish(1), default);
        await flow.LeavingAsync(Publish(2), default);
        flow.Acknowledged(9);
        Assert.Equal(1, flow.DeferredCount);
        flow.Acknowledged(1);
        await Poll.UntilAsync(() => flow.DeferredCount == 0, Patience.Reaction, "the waiting publish sent");
    }

    [Fact]
    public async Task A_topic_goes_out_in_full_with_its_alias_once_then_as_the_alias_alone() // MQTT-3.3.2-12, 3.3.2.3.4
    {
        var flow = Flow(topicAliasMaximum: 10);
        var first = Publish(1);
        var second = Publish(2);

        var (_, sentFirst) = await flow.LeavingAsync(first, default);
        var (_, sentSecond) = await flow.LeavingAsync(second, default);

        Assert.Equal(("plant/line1/temp", (ushort)1), (sentFirst!.Topic, sentFirst.TopicAlias));
        Assert.Equal((string.Empty, (ushort)1), (sentSecond!.Topic, sentSecond.TopicAlias));
        // MQTTnet's own packets keep their topic: one sent again on a later connection has no alias there [MQTT-3.3.2-7].
        Assert.Equal(("plant/line1/temp", (ushort)0), (second.Topic, second.TopicAlias));
    }

    [Fact]
    public async Task The_encoder_writes_an_empty_topic_with_the_alias()
    {
        var flow = Flow(topicAliasMaximum: 1);
        await flow.LeavingAsync(Publish(1), default);
        var (_, aliased) = await flow.LeavingAsync(Publish(2), default);

        var encoded = new MqttPacketFormatterAdapter(MqttProtocolVersion.V500, new MqttBufferWriter(4096, 65536)).Encode(aliased!).Join();
        var decoded = (MqttPublishPacket)new MqttPacketFormatterAdapter(MqttProtocolVersion.V500, new MqttBufferWriter(4096, 65536))
            .Decode(new MQTTnet.Adapter.ReceivedMqttPacket(encoded[0], new ArraySegment<byte>(encoded.Array!, encoded.Offset + 2, encoded.Count - 2), encoded.Count));
        Assert.Equal((string.Empty, (ushort)1), (decoded.Topic, decoded.TopicAlias));
    }

    [Fact]
    public async Task A_packet_larger_than_the_client_allows_is_discarded_not_sent_and_reported_with_its_size() // MQTT-3.1.2-24, MQTT-3.1.2-25
    {
        var flow = Flow(maximumPacketSize: 100);
        Assert.Equal(OutboundVerdict.Send, (await flow.LeavingAsync(Publish(1, payloadBytes: 50), default)).Verdict);

        Assert.Equal(OutboundVerdict.TooLarge, (await flow.LeavingAsync(Publish(2, payloadBytes: 100), default)).Verdict);

        var (verdict, packet, size) = Assert.Single(_discarded);
        Assert.Equal((OutboundVerdict.TooLarge, (ushort)2), (verdict, packet.PacketIdentifier));
        Assert.True(size > 100, $"size {size}");
    }

    [Fact]
    public async Task A_too_large_packet_takes_no_slot_and_its_topic_gets_no_alias_the_client_never_saw()
    {
        var flow = Flow(receiveMaximum: 1, maximumPacketSize: 100, topicAliasMaximum: 5);
        await flow.LeavingAsync(Publish(1, topic: "big", payloadBytes: 500), default);

        var (verdict, sent) = await flow.LeavingAsync(Publish(2, topic: "big"), default);

        Assert.Equal(OutboundVerdict.Send, verdict); // the slot the discarded one would have had is free
        Assert.Equal("big", sent!.Topic); // in full: the alias assigned to the discarded one never reached the client
    }

    [Fact]
    public async Task A_delivered_message_carries_the_time_left_and_no_gateway_stamp() // MQTT-3.3.2-6
    {
        var flow = Flow();
        var publish = Stamped(Publish(1), interval: 60, enteredAt: _clock.Now.AddSeconds(-10));

        var (verdict, sent) = await flow.LeavingAsync(publish, default);

        Assert.Equal(OutboundVerdict.Send, verdict);
        Assert.Equal(50u, sent!.MessageExpiryInterval);
        Assert.Null(sent.UserProperties);
        Assert.Equal(60u, publish.MessageExpiryInterval); // MQTTnet's copy keeps the original, for a resend later
    }

    [Fact]
    public async Task A_message_that_expired_while_waiting_for_the_receive_maximum_is_not_delivered() // MQTT-3.3.2-5
    {
        var flow = Flow(receiveMaximum: 1);
        await flow.LeavingAsync(Publish(1), default);
        await flow.LeavingAsync(Stamped(Publish(2), interval: 5, enteredAt: _clock.Now), default);
        await flow.LeavingAsync(Publish(3), default);

        _clock.Now = _clock.Now.AddSeconds(6);
        flow.Acknowledged(1);

        await Poll.UntilAsync(() => _channel.Sent.Count == 1, Patience.Reaction, "publish 3, after 2 expired");
        Assert.Equal(3, _channel.Sent.Single().PacketIdentifier);
        var discarded = Assert.Single(_discarded);
        Assert.Equal((OutboundVerdict.Expired, (ushort)2), (discarded.Verdict, discarded.Packet.PacketIdentifier));
    }

    private static MqttPublishPacket Stamped(MqttPublishPacket publish, uint interval, DateTimeOffset enteredAt)
    {
        var message = new MqttApplicationMessage { Topic = publish.Topic, MessageExpiryInterval = interval };
        MessageExpiry.Stamp(message, enteredAt);
        publish.MessageExpiryInterval = interval;
        publish.UserProperties = message.UserProperties;
        return publish;
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>A connection's adapter that keeps what it was given to send.</summary>
    private sealed class RecordingChannel : IMqttChannelAdapter
    {
        public ConcurrentQueue<MqttPublishPacket> Sent { get; } = new();

        public long BytesReceived => 0;
        public long BytesSent => 0;
        public X509Certificate2 ClientCertificate => null!;
        public EndPoint RemoteEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 50000);
        public EndPoint LocalEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 1883);
        public bool IsSecureConnection => false;
        public MqttPacketFormatterAdapter PacketFormatterAdapter { get; } = new(MqttProtocolVersion.V500, new MqttBufferWriter(4096, 65536));

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task DisconnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken) => Task.FromResult<MqttPacket>(null!);
        public void ResetStatistics() { }
        public void Dispose() { }

        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
        {
            Sent.Enqueue((MqttPublishPacket)packet);
            return Task.CompletedTask;
        }
    }
}
