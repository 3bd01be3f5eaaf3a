using System.Buffers;
using Gateway.Stomp;
using Gateway.UnitTests.Stomp;

namespace Gateway.UnitTests.Fuzzing;

/// <summary>
/// The STOMP frame reader as the fuzzers drive it: bytes arriving in pieces, parsed as far as they go
/// after each piece, the way a session reads its pipe. What comes out, in words, so two ways of
/// feeding the same bytes can be compared.
/// </summary>
internal static class StompReaderTarget
{
    /// <summary>Small limits, so mutated inputs of a few hundred bytes reach every one of them.</summary>
    public static readonly StompLimits SmallLimits = new() { MaxBodyBytes = 64, MaxHeaders = 6, MaxLineBytes = 48, MaxHeaderBytes = 160 };

    /// <summary>
    /// The most an unfinished frame may hold in the buffer: its header lines up to the header limit,
    /// one more line under way, and a body with its NUL. Anything past it means the reader waits for
    /// bytes a limit should have refused.
    /// </summary>
    public static long MostBuffered(StompLimits limits) => limits.MaxHeaderBytes + limits.MaxLineBytes + 2L + limits.MaxBodyBytes + 1;

    /// <summary>Feeds <paramref name="chunks"/> one after the other; the frames, then "error: ..." or "waiting for N bytes".</summary>
    /// <exception cref="Exception">Anything but <see cref="StompProtocolException"/>, or a broken limit (as an assertion).</exception>
    public static List<string> Parse(IEnumerable<ReadOnlyMemory<byte>> chunks, StompLimits limits)
    {
        var outcome = new List<string>();
        var pending = new SegmentList();
        foreach (var chunk in chunks)
        {
            pending.Append(chunk);
            var buffer = pending.Sequence;
            try
            {
                while (StompFrameReader.TryParse(ref buffer, limits, out var frame, out _))
                {
                    Assert.True(frame!.Headers.Count <= limits.MaxHeaders, $"a frame with {frame.Headers.Count} headers passed the limit of {limits.MaxHeaders}");
                    Assert.True(frame.Body.Length <= limits.MaxBodyBytes, $"a frame with a body of {frame.Body.Length} bytes passed the limit of {limits.MaxBodyBytes}");
                    outcome.Add(Describe(frame));
                }
            }
            catch (StompProtocolException ex)
            {
                outcome.Add("error: " + ex.Message);
                return outcome;
            }
            Assert.True(buffer.Length <= MostBuffered(limits), $"the reader waits with {buffer.Length} bytes buffered, past the limits' {MostBuffered(limits)}");
            pending.KeepFrom(buffer);
        }
        if (!pending.Sequence.IsEmpty) outcome.Add($"waiting with {pending.Sequence.Length} bytes");
        return outcome;
    }

    private static string Describe(StompFrame frame) =>
        $"{frame.Command} [{string.Join(", ", frame.Headers.Select(h => $"{h.Key}={h.Value}"))}] {Convert.ToHexString(frame.Body.Span)}";

    /// <summary>The unread bytes as a chain of segments, one per piece that arrived, like a pipe's buffer.</summary>
    private sealed class SegmentList
    {
        private byte[] _bytes = [];
        private List<int> _cuts = [];

        public ReadOnlySequence<byte> Sequence { get; private set; } = ReadOnlySequence<byte>.Empty;

        public void Append(ReadOnlyMemory<byte> piece)
        {
            _cuts.Add(_bytes.Length);
            _bytes = [.. _bytes, .. piece.Span];
            Sequence = _bytes.Length == 0 ? ReadOnlySequence<byte>.Empty : Segment.Split(_bytes, [.. _cuts]);
        }

        /// <summary>Drops what the reader consumed, keeping the later pieces' boundaries.</summary>
        public void KeepFrom(ReadOnlySequence<byte> rest)
        {
            var consumed = _bytes.Length - (int)rest.Length;
            _bytes = _bytes[consumed..];
            _cuts = _cuts.Select(c => c - consumed).Where(c => c > 0).ToList();
            Sequence = _bytes.Length == 0 ? ReadOnlySequence<byte>.Empty : Segment.Split(_bytes, [.. _cuts]);
        }
    }
}
