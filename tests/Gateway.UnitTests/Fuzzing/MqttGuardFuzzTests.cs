using Gateway.Mqtt;
using Gateway.TestUtilities.Fuzzing;

namespace Gateway.UnitTests.Fuzzing;

/// <summary>
/// The MQTT byte guards (<see cref="MqttFixedHeaderGuard"/>, which drives <see cref="MqttProtocolChecks"/>
/// and <see cref="MqttPropertyReader"/>) on mutated conversations (<c>tests/fuzz-corpus/mqtt</c>): no
/// exception at all, the same verdict whole or in random pieces, and nothing passed that is larger
/// than the limits.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class MqttGuardFuzzTests
{
    private static readonly MqttPacketLimits SmallLimits = new(MaxConnectBytes: 200, MaxPacketBytes: 400);
    private static readonly MqttPacketLimits LargeLimits = new(MaxConnectBytes: MqttPacketLimits.ConnectBytes, MaxPacketBytes: MqttPacketLimits.ProtocolMaxBytes);

    [Fact]
    public void Mutated_packets_get_the_same_verdict_whole_and_in_any_pieces_within_small_limits() =>
        FuzzRunner.Run(FuzzProtocol.Mqtt, 10_000, c => AssertSplitsAgree(c, SmallLimits));

    [Fact]
    public void Mutated_packets_get_the_same_verdict_whole_and_in_any_pieces_within_the_largest_limits() =>
        FuzzRunner.Run(FuzzProtocol.Mqtt, 10_000, c => AssertSplitsAgree(c, LargeLimits));

    [Fact]
    public void A_property_list_of_any_bytes_is_read_to_its_end_or_found_malformed() =>
        FuzzRunner.Run(FuzzProtocol.Mqtt, 10_000, c =>
        {
            var from = c.Random.Next(c.Input.Length + 1);
            var reader = new MqttPropertyReader(c.Input.AsSpan(from));
            var properties = 0;
            while (reader.MoveNext(out _)) Assert.True(++properties <= c.Input.Length, "the property reader does not advance");
        });

    private static void AssertSplitsAgree(FuzzCase fuzzCase, MqttPacketLimits limits)
    {
        var whole = Verdict(new MqttFixedHeaderGuard(limits).Inspect(fuzzCase.Input));
        var guard = new MqttFixedHeaderGuard(limits);
        MqttPacketRefusal? refusal = null;
        foreach (var chunk in fuzzCase.Chunks())
        {
            refusal = guard.Inspect(chunk.Span);
            if (refusal is not null) break;
        }
        Assert.Equal(whole, Verdict(refusal));
        if (refusal is not null) Assert.False(string.IsNullOrWhiteSpace(refusal.Describe()));
    }

    private static string Verdict(MqttPacketRefusal? refusal) =>
        refusal is null ? "passed" : $"{refusal.Kind} {refusal.Cause} {refusal.DeclaredBytes} {refusal.Violation?.Code} {refusal.Violation?.Describe()}";
}
