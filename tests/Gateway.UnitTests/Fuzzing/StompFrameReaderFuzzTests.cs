using Gateway.Stomp;
using Gateway.TestUtilities.Fuzzing;

namespace Gateway.UnitTests.Fuzzing;

/// <summary>
/// The STOMP frame reader on mutated conversations (<c>tests/fuzz-corpus/stomp</c>), fed in pieces
/// cut at random points: only <see cref="StompProtocolException"/> may come out, never more buffered
/// than the limits allow, and the same frames (or the same error) whatever the pieces were. By hand:
/// <c>FUZZ_SECONDS=600 ./test.sh --filter "Category=Fuzz"</c> (see tests/README.md).
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class StompFrameReaderFuzzTests
{
    [Fact]
    public void Mutated_frames_in_any_pieces_parse_as_they_do_whole_or_fail_with_a_protocol_error_within_small_limits() =>
        FuzzRunner.Run(FuzzProtocol.Stomp, 3_000, c => AssertSplitsAgree(c, StompReaderTarget.SmallLimits));

    [Fact]
    public void Mutated_frames_in_any_pieces_parse_as_they_do_whole_or_fail_with_a_protocol_error_within_the_default_limits() =>
        FuzzRunner.Run(FuzzProtocol.Stomp, 500, c => AssertSplitsAgree(c, StompLimits.Default));

    private static void AssertSplitsAgree(FuzzCase fuzzCase, StompLimits limits)
    {
        var whole = StompReaderTarget.Parse([fuzzCase.Input], limits);
        var pieces = StompReaderTarget.Parse(fuzzCase.Chunks(), limits);
        Assert.Equal(whole, pieces);
    }
}
