using System.Buffers;

namespace Gateway.Benchmarks.Stomp;

/// <summary>Builds a multi-segment <see cref="ReadOnlySequence{T}"/>, the shape a pipe hands over when a frame arrives in several reads.</summary>
internal static class SegmentedSequence
{
    /// <summary>Splits <paramref name="bytes"/> at the given offsets (ascending, inside the array) into linked segments.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var bounds = new List<int> { 0 };
        bounds.AddRange(cuts);
        bounds.Add(bytes.Length);

        Segment? first = null, last = null;
        for (var i = 0; i < bounds.Count - 1; i++)
        {
            // Each segment gets its own array, as separate socket reads would.
            var piece = bytes.AsSpan(bounds[i], bounds[i + 1] - bounds[i]).ToArray();
            if (last is null) first = last = new Segment(piece, 0);
            else last = last.Append(piece);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
