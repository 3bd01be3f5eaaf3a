using Gateway.Storage.LiteDb;
using Gateway.Configuration;
using Gateway.Mqtt;
using Microsoft.Extensions.Configuration;

namespace Gateway.UnitTests.Mqtt;

public sealed class MqttFixedHeaderGuardTests
{
    private static readonly MqttPacketLimits Limits = new(MaxConnectBytes: 1000, MaxPacketBytes: 200_000);

    /// <summary>
    /// A packet of <paramref name="size"/> bytes in all (type byte, remaining length, body). A PUBLISH's
    /// body starts with the topic "t" and packet identifier 1: an empty topic is a protocol error.
    /// </summary>
    private static byte[] Packet(byte typeAndFlags, int size)
    {
        for (var lengthBytes = 1; lengthBytes <= 4; lengthBytes++)
        {
            var remaining = size - 1 - lengthBytes;
            if (remaining < 0 || MqttPacketBytes.VariableInteger(remaining).Length != lengthBytes) continue;
            var body = new byte[remaining];
            if (typeAndFlags >> 4 == 3) ((byte[])[0, 1, (byte)'t', 0, 1]).CopyTo(body, 0);
            return [typeAndFlags, .. MqttPacketBytes.VariableInteger(remaining), .. body];
        }
        throw new ArgumentOutOfRangeException(nameof(size));
    }

    /// <summary>Feeds the bytes in pieces of <paramref name="piece"/>; the first refusal and how many bytes had been fed when it came.</summary>
    private static (MqttPacketRefusal? Refusal, int FedBytes) Feed(byte[] stream, int piece)
    {
        var guard = new MqttFixedHeaderGuard(Limits);
        for (var at = 0; at < stream.Length; at += piece)
        {
            var length = Math.Min(piece, stream.Length - at);
            if (guard.Inspect(stream.AsSpan(at, length)) is { } refusal) return (refusal, at + length);
        }
        return (null, stream.Length);
    }

    [Fact]
    public void A_connect_declaring_256_MiB_is_refused_on_its_fifth_byte()
    {
        byte[] header = [0x10, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C];

        var (refusal, fed) = Feed(header, piece: 1);

        Assert.Equal(5, fed); // before the byte that completes the length reaches MQTTnet, which would allocate the body
        Assert.Equal(new MqttPacketRefusal(MqttPacketKind.Connect, MqttRefusalCause.TooLarge, 268_435_460, 1000), refusal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Packets_at_their_limits_pass_in_any_pieces_and_the_first_over_is_refused(int piece)
    {
        var atLimits = Packet(0x10, 1000).Concat(Packet(0xC0, 2)).Concat(Packet(0x32, 200_000)).Concat(Packet(0x40, 4)).ToArray();
        var over = Packet(0x30, 200_001);

        Assert.Equal(((MqttPacketRefusal?)null, atLimits.Length), Feed(atLimits, piece));
        var (refusal, _) = Feed([.. atLimits, .. over], piece);
        Assert.Equal(new MqttPacketRefusal(MqttPacketKind.Publish, MqttRefusalCause.TooLarge, 200_001, 200_000), refusal);
    }

    [Fact]
    public void A_connect_one_byte_over_its_limit_is_refused()
    {
        var (refusal, _) = Feed(Packet(0x10, 1001), piece: 64);

        Assert.Equal(new MqttPacketRefusal(MqttPacketKind.Connect, MqttRefusalCause.TooLarge, 1001, 1000), refusal);
    }

    [Theory]
    [InlineData(0x30)] // PUBLISH
    [InlineData(0x82)] // SUBSCRIBE
    [InlineData(0x00)] // reserved
    [InlineData(0xF0)] // AUTH
    public void Anything_but_connect_first_is_refused_on_its_first_byte(byte first)
    {
        var (refusal, fed) = Feed([first, 0xFF, 0xFF, 0xFF, 0x7F], piece: 1);

        Assert.Equal(1, fed);
        Assert.Equal(MqttRefusalCause.NotConnectFirst, refusal?.Cause);
        Assert.Equal((MqttPacketKind)(first >> 4), refusal?.Kind);
    }

    [Fact]
    public void A_remaining_length_running_past_four_bytes_is_malformed()
    {
        var (refusal, fed) = Feed([.. Packet(0x10, 20), 0x30, 0x80, 0x80, 0x80, 0x80, 0x01], piece: 1);

        Assert.Equal(25, fed); // on the fourth length byte, which still says more follow
        Assert.Equal(MqttRefusalCause.MalformedLength, refusal?.Cause);
    }

    [Fact]
    public void Once_refused_the_guard_keeps_refusing()
    {
        var guard = new MqttFixedHeaderGuard(Limits);
        var first = guard.Inspect([0x30]);

        Assert.NotNull(first);
        Assert.Same(first, guard.Inspect(Packet(0x10, 10)));
    }

    [Fact]
    public void The_default_limit_is_the_outbox_largest_message_with_room_for_topic_and_properties()
    {
        var options = new GatewayOptions { Outbox = new LiteDbOutboxOptions { DataPath = "./data", MaxMessageBytes = 2 << 20 } };

        Assert.Equal(new MqttPacketLimits(64 * 1024, (2 << 20) + 128 * 1024), MqttPacketLimits.From(options));
        Assert.Equal(new MqttPacketLimits(5000, 5000), MqttPacketLimits.From(options with { Mqtt = new MqttListenerOptions { MaxPacketBytes = 5000 } }));
    }

    [Theory]
    [InlineData("1023")]
    [InlineData("268435461")]
    public void A_max_packet_size_outside_what_MQTT_can_carry_is_refused_at_start(string value)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new KeyValuePair<string, string?>("Gateway:Mqtt:MaxPacketBytes", value)])
            .Build();

        var refusal = Assert.Throws<GatewayConfigurationException>(() => GatewayConfiguration.Load(configuration));
        Assert.Contains("Gateway:Mqtt:MaxPacketBytes must be 1024 to 268435460", refusal.Message);
    }
}
