namespace Gateway.TestUtilities.Fuzzing;

/// <summary>One input of a fuzz run: the bytes, how they were made, and a generator for the test's own random choices (split points).</summary>
public sealed class FuzzCase(int seed, int iteration, byte[] input, string origin, Random random)
{
    public int Seed { get; } = seed;

    public int Iteration { get; } = iteration;

    public byte[] Input { get; } = input;

    /// <summary>The corpus file's index and the mutators applied, in order.</summary>
    public string Origin { get; } = origin;

    public Random Random { get; } = random;

    /// <summary>The input cut at random points into pieces of 1 byte up to the whole, as a socket or pipe would hand it over.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Chunks()
    {
        var chunks = new List<ReadOnlyMemory<byte>>();
        var at = 0;
        // Sometimes byte by byte (every boundary a split) when the input is short, mostly a mix of
        // small and large pieces: at most about 64, as the targets re-read what is pending after each.
        var largest = Random.Next(4) == 0 && Input.Length <= 512 ? 1 : Math.Max(Input.Length / 64 + 1, Input.Length / Random.Next(1, 8));
        while (at < Input.Length)
        {
            var length = Math.Min(Input.Length - at, Random.Next(1, largest + 1));
            chunks.Add(Input.AsMemory(at, length));
            at += length;
        }
        return chunks;
    }

    /// <summary>Everything needed to replay it: the seed, the iteration, and the bytes, as hex for a regression test.</summary>
    public string Describe() =>
        $"FUZZ_SEED={Seed}, iteration {Iteration} ({Origin}), {Input.Length} bytes:\n{Convert.ToHexString(Input)}";
}

/// <summary>An input made a fuzz target fail; the message carries the input to keep as a regression test.</summary>
public sealed class FuzzFailureException(FuzzCase fuzzCase, Exception inner)
    : Exception($"fuzz input failed: {inner.GetType().Name}: {inner.Message}\n{fuzzCase.Describe()}", inner);
