using System.Globalization;
using System.Text;

namespace Gateway.TestUtilities.Fuzzing;

/// <summary>
/// Makes one input from the corpus: a valid conversation with one to four mutations (bit flips,
/// byte insertions and deletions, the protocol's length fields set to edge values, a splice of two
/// conversations, truncation, repetition, random bytes), or now and then random bytes after a valid
/// CONNECT, or random bytes alone.
/// </summary>
public sealed partial class FuzzMutator(FuzzProtocol protocol, IReadOnlyList<byte[]> corpus, Random random)
{
    /// <summary>Mutated inputs stay small: the targets' limits are tested with their own small limits, not with megabytes.</summary>
    private const int LargestInput = 16 * 1024;

    /// <summary>Bytes the parsers give meaning to: delimiters, escapes, varint continuation, the edges of a byte.</summary>
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0xC0, (byte)'\n', (byte)'\r', (byte)':', (byte)'\\', (byte)',', (byte)'/', (byte)'#', (byte)'+'];

    private readonly List<string> _applied = [];

    /// <summary>The input and how it was made (for the failure message).</summary>
    public (byte[] Input, string Origin) Next()
    {
        var index = random.Next(corpus.Count);
        var input = new List<byte>(corpus[index]);
        _applied.Add($"corpus[{index}]");
        switch (random.Next(20))
        {
            case 0:
                input = RandomBytes(random.Next(1, 512));
                _applied.Add("random bytes");
                break;
            case 1:
                // A valid CONNECT (the conversation's first packet or frame), then noise: past the "CONNECT first" check.
                input = input.Take(FirstUnitLength(input)).Concat(RandomBytes(random.Next(1, 512))).ToList();
                _applied.Add("connect then random bytes");
                break;
            default:
                var mutations = random.Next(1, 5);
                for (var i = 0; i < mutations; i++) Mutate(input);
                break;
        }
        if (input.Count > LargestInput) input.RemoveRange(LargestInput, input.Count - LargestInput);
        return (input.ToArray(), string.Join(", ", _applied));
    }

    private void Mutate(List<byte> input)
    {
        switch (random.Next(10))
        {
            case 0 or 1: FlipBits(input); break;
            case 2: InsertBytes(input); break;
            case 3: DeleteBytes(input); break;
            case 4 or 5: TweakLength(input); break;
            case 6: Splice(input); break;
            case 7: Truncate(input); break;
            case 8: Repeat(input); break;
            default: OverwriteWithRandom(input); break;
        }
    }

    private void FlipBits(List<byte> input)
    {
        if (input.Count == 0) return;
        var flips = random.Next(1, 9);
        for (var i = 0; i < flips; i++)
        {
            var at = random.Next(input.Count);
            input[at] ^= (byte)(1 << random.Next(8));
        }
        _applied.Add($"flip {flips} bits");
    }

    private void InsertBytes(List<byte> input)
    {
        var at = random.Next(input.Count + 1);
        var count = random.Next(1, 17);
        var bytes = Enumerable.Range(0, count).Select(_ => random.Next(2) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256));
        input.InsertRange(at, bytes);
        _applied.Add($"insert {count} at {at}");
    }

    private void DeleteBytes(List<byte> input)
    {
        if (input.Count == 0) return;
        var at = random.Next(input.Count);
        var count = Math.Min(input.Count - at, random.Next(1, 17));
        input.RemoveRange(at, count);
        _applied.Add($"delete {count} at {at}");
    }

    /// <summary>The first part of another corpus input glued at a random point, the rest of this one after it, or the other way round.</summary>
    private void Splice(List<byte> input)
    {
        var other = corpus[random.Next(corpus.Count)];
        var cut = random.Next(input.Count + 1);
        var from = random.Next(other.Length + 1);
        input.RemoveRange(cut, input.Count - cut);
        input.AddRange(other.AsSpan(from).ToArray());
        _applied.Add($"splice at {cut} from {from}");
    }

    private void Truncate(List<byte> input)
    {
        var cut = random.Next(input.Count + 1);
        input.RemoveRange(cut, input.Count - cut);
        _applied.Add($"truncate at {cut}");
    }

    /// <summary>A slice repeated: a packet or frame sent again and again, or a header line many times over.</summary>
    private void Repeat(List<byte> input)
    {
        if (input.Count == 0) return;
        var at = random.Next(input.Count);
        var length = Math.Min(input.Count - at, random.Next(1, 65));
        var times = random.Next(2, random.Next(2) == 0 ? 8 : 512);
        var slice = input.GetRange(at, length);
        for (var i = 1; i < times && input.Count < LargestInput; i++) input.InsertRange(at, slice);
        _applied.Add($"repeat {length} at {at} x{times}");
    }

    private void OverwriteWithRandom(List<byte> input)
    {
        if (input.Count == 0) return;
        var at = random.Next(input.Count);
        var count = Math.Min(input.Count - at, random.Next(1, 33));
        for (var i = 0; i < count; i++) input[at + i] = (byte)random.Next(256);
        _applied.Add($"overwrite {count} at {at}");
    }

    private List<byte> RandomBytes(int count) => Enumerable.Range(0, count).Select(_ => (byte)random.Next(256)).ToList();

    private void TweakLength(List<byte> input)
    {
        if (protocol == FuzzProtocol.Mqtt) TweakMqttLength(input);
        else TweakNumericHeader(input);
    }

    /// <summary>A length near, at, or far past what the bytes hold: the values parsers get wrong.</summary>
    private long EdgeValue(long actual, long largest)
    {
        return random.Next(8) switch
        {
            0 => 0,
            1 => Math.Max(0, actual - 1),
            2 => actual + 1,
            3 => actual + random.Next(2, 300),
            4 => largest,
            5 => largest - random.Next(0, 3),
            6 => (long)(random.NextDouble() * largest),
            _ => 1L << random.Next(0, 31),
        };
    }

    private int FirstUnitLength(List<byte> input)
    {
        if (protocol == FuzzProtocol.Stomp)
        {
            var nul = input.IndexOf(0);
            return nul < 0 ? input.Count : nul + 1;
        }
        var packets = MqttPackets(input);
        return packets.Count == 0 ? input.Count : packets[0].End;
    }

    /// <summary>The STOMP headers whose values are numbers the server parses.</summary>
    private static readonly string[] NumericHeaders = ["content-length", "expires", "heart-beat"];

    /// <summary>
    /// STOMP: a content-length, expires or heart-beat set to an edge value or to something that is
    /// not a number, or such a header added.
    /// </summary>
    private void TweakNumericHeader(List<byte> input)
    {
        var text = Encoding.Latin1.GetString(input.ToArray());
        var name = NumericHeaders[random.Next(NumericHeaders.Length)];
        var at = text.IndexOf(name + ":", StringComparison.Ordinal);
        var value = NumericValue(name == "expires" ? 1_893_456_000_000 : 5);
        if (name == "heart-beat") value = $"{value},{NumericValue(1000)}";
        if (at < 0 || random.Next(4) == 0)
        {
            // A header added after a line break somewhere: after the command line, or among the headers.
            var newline = text.IndexOf('\n', random.Next(text.Length + 1));
            if (newline < 0) return;
            input.InsertRange(newline + 1, Encoding.Latin1.GetBytes($"{name}:{value}\n"));
            _applied.Add($"{name}:{value} added at {newline + 1}");
            return;
        }
        var start = at + name.Length + 1;
        var end = text.IndexOfAny(['\n', '\r'], start);
        if (end < 0) end = text.Length;
        input.RemoveRange(start, end - start);
        input.InsertRange(start, Encoding.Latin1.GetBytes(value));
        _applied.Add($"{name}:{value} at {at}");
    }

    private string NumericValue(long typical) => random.Next(8) switch
    {
        0 => "-1",
        1 => "",
        2 => "99999999999999999999999",
        3 => long.MaxValue.ToString(CultureInfo.InvariantCulture),
        4 => " 5",
        _ => EdgeValue(typical, random.Next(2) == 0 ? int.MaxValue : long.MaxValue / 2).ToString(CultureInfo.InvariantCulture),
    };
}
