using System.Buffers;
using System.Text;
using Gateway.Stomp;

namespace Gateway.UnitTests.Stomp;

public sealed class StompCodecTests
{
    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Encode(StompFrame frame)
    {
        var buffer = new ArrayBufferWriter<byte>();
        StompFrameWriter.Write(frame, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>All frames in the bytes, fed as one sequence.</summary>
    private static List<StompFrame> ParseAll(ReadOnlySequence<byte> input, StompLimits? limits = null)
    {
        var frames = new List<StompFrame>();
        while (StompFrameReader.TryParse(ref input, limits ?? StompLimits.Default, out var frame, out _)) frames.Add(frame!);
        Assert.True(input.IsEmpty, $"{input.Length} bytes left unparsed");
        return frames;
    }

    /// <summary>Feeds the bytes one at a time, as a slow network would, keeping what was not consumed.</summary>
    private static List<StompFrame> ParseByteByByte(byte[] bytes)
    {
        var frames = new List<StompFrame>();
        var pending = new List<byte>();
        foreach (var b in bytes)
        {
            pending.Add(b);
            var input = new ReadOnlySequence<byte>(pending.ToArray());
            while (StompFrameReader.TryParse(ref input, StompLimits.Default, out var frame, out _)) frames.Add(frame!);
            pending = [.. input.ToArray()];
        }
        Assert.Empty(pending);
        return frames;
    }

    private static void AssertSame(StompFrame expected, StompFrame actual)
    {
        Assert.Equal(expected.Command, actual.Command);
        Assert.Equal(expected.Body.ToArray(), actual.Body.ToArray());
        var expectedHeaders = expected.Headers.ToList();
        if (!expected.Body.IsEmpty && expected["content-length"] is null)
            expectedHeaders.Add(new("content-length", expected.Body.Length.ToString()));
        Assert.Equal(expectedHeaders, actual.Headers);
    }

    public static TheoryData<StompCommand> AllCommands() => new(Enum.GetValues<StompCommand>());

    [Theory]
    [MemberData(nameof(AllCommands))]
    public void Every_frame_type_round_trips(StompCommand command)
    {
        var frame = StompFrame.Create(command, Bytes("body\0with nul"), ("destination", "/queue/a"), ("receipt", "r-1"), ("x", "y"));
        AssertSame(frame, Assert.Single(ParseAll(new ReadOnlySequence<byte>(Encode(frame)))));
    }

    [Fact]
    public void Frames_fed_one_byte_at_a_time_or_split_across_segments_parse_the_same()
    {
        var frames = new[]
        {
            StompFrame.Create(StompCommand.Connected, ("version", "1.2"), ("heart-beat", "0,0")),
            StompFrame.Create(StompCommand.Message, Bytes("21.5"), ("destination", "/topic/a.b"), ("subscription", "0"), ("message-id", "m:1")),
            StompFrame.Create(StompCommand.Receipt, ("receipt-id", "77")),
        };
        var bytes = frames.SelectMany(Encode).ToArray();

        var byteByByte = ParseByteByByte(bytes);
        Assert.Equal(3, byteByByte.Count);
        for (var i = 0; i < 3; i++) AssertSame(frames[i], byteByByte[i]);

        for (var cut = 1; cut < bytes.Length; cut += 7)
        {
            var split = ParseAll(Segment.Split(bytes, cut, cut + 3, cut + 11));
            Assert.Equal(3, split.Count);
            for (var i = 0; i < 3; i++) AssertSame(frames[i], split[i]);
        }
    }

    [Fact]
    public void Header_names_and_values_are_escaped_per_the_spec()
    {
        var frame = StompFrame.Create(StompCommand.Send, ("weird:name", "a\\b\nc\rd:e"));
        var wire = Encoding.UTF8.GetString(Encode(frame));
        Assert.Contains(@"weird\cname:a\\b\nc\rd\ce", wire);
        AssertSame(frame, Assert.Single(ParseAll(new ReadOnlySequence<byte>(Encode(frame)))));
    }

    [Fact]
    public void Connect_and_connected_headers_are_not_escaped()
    {
        var wire = Bytes("CONNECT\npasscode:a\\b\nhost:h\n\n\0");
        var frame = Assert.Single(ParseAll(new ReadOnlySequence<byte>(wire)));
        Assert.Equal("a\\b", frame["passcode"]); // taken as it is: CONNECT is exempt
        Assert.Contains("passcode:a\\b\n", Encoding.UTF8.GetString(Encode(frame)));
    }

    [Theory]
    [InlineData("SEND\nx:a\\tb\n\n\0", "undefined escape")]
    [InlineData("SEND\nx:a\\\n\n\0", "lone backslash")]
    [InlineData("FROB\n\n\0", "unknown command")]
    [InlineData("SEND\nno colon here\n\n\0", "without a name")]
    [InlineData("SEND\ncontent-length:abc\n\n\0", "not a non-negative integer")]
    [InlineData("SEND\ncontent-length:2\n\nabc\0", "longer than its content-length")]
    [InlineData("SEND\n\r\r\n\0", "")]
    public void Malformed_frames_are_refused_with_a_reason(string wire, string reason)
    {
        var input = new ReadOnlySequence<byte>(Bytes(wire));
        var ex = Assert.ThrowsAny<Exception>(() => StompFrameReader.TryParse(ref input, StompLimits.Default, out _, out _));
        Assert.IsType<StompProtocolException>(ex);
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void A_body_with_content_length_may_contain_nul_and_one_without_ends_at_the_first_nul()
    {
        var withLength = Assert.Single(ParseAll(new ReadOnlySequence<byte>(Bytes("SEND\ncontent-length:3\n\na\0b\0"))));
        Assert.Equal(Bytes("a\0b"), withLength.Body.ToArray());

        var frames = ParseAll(new ReadOnlySequence<byte>(Bytes("SEND\n\nhello\0SEND\n\n\0")));
        Assert.Equal(Bytes("hello"), frames[0].Body.ToArray());
        Assert.True(frames[1].Body.IsEmpty);
    }

    [Fact]
    public void ActiveMQ_newline_after_nul_and_crlf_lines_and_heartbeats_between_frames_parse_cleanly()
    {
        var input = new ReadOnlySequence<byte>(Bytes("\n\r\nRECEIPT\r\nreceipt-id:1\r\n\r\n\0\nMESSAGE\nmessage-id:2\n\nx\0\n\n"));
        var heartbeats = 0;
        var frames = new List<StompFrame>();
        while (true)
        {
            var more = StompFrameReader.TryParse(ref input, StompLimits.Default, out var frame, out var seen);
            heartbeats += seen;
            if (!more) break;
            frames.Add(frame!);
        }
        Assert.Equal([StompCommand.Receipt, StompCommand.Message], frames.Select(f => f.Command));
        Assert.Equal("1", frames[0]["receipt-id"]);
        Assert.Equal(5, heartbeats); // two before, one after each NUL, one more at the end
        Assert.True(input.IsEmpty);
    }

    [Fact]
    public void When_a_header_repeats_the_first_value_wins()
    {
        var frame = Assert.Single(ParseAll(new ReadOnlySequence<byte>(Bytes("MESSAGE\nfoo:World\nfoo:Hello\n\n\0"))));
        Assert.Equal("World", frame["foo"]);
        Assert.Equal(2, frame.Headers.Count(h => h.Key == "foo"));
    }

    [Fact]
    public void A_huge_content_length_is_refused_from_the_header_alone_without_allocating_for_it()
    {
        var input = new ReadOnlySequence<byte>(Bytes("SEND\ncontent-length:1073741824\n\n"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<StompProtocolException>(() => StompFrameReader.TryParse(ref input, StompLimits.Default, out _, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
        Assert.Contains("over the limit", ex.Message);
    }

    [Fact]
    public void An_endless_header_line_is_refused_once_it_passes_the_limit()
    {
        var limits = StompLimits.Default with { MaxLineBytes = 1024 };
        var endless = Bytes("SEND\nx:" + new string('a', 2000));
        var input = new ReadOnlySequence<byte>(endless);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<StompProtocolException>(() => StompFrameReader.TryParse(ref input, limits, out _, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);

        // Under the limit it is simply incomplete: wait for more.
        var partial = new ReadOnlySequence<byte>(Bytes("SEND\nx:" + new string('a', 500)));
        Assert.False(StompFrameReader.TryParse(ref partial, limits, out _, out _));
    }

    [Fact]
    public void Too_many_headers_are_refused_at_one_over_the_limit()
    {
        var limits = StompLimits.Default with { MaxHeaders = 10 };
        var ten = "SEND\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"h{i}:v\n")) + "\n\0";
        var ok = new ReadOnlySequence<byte>(Bytes(ten));
        Assert.True(StompFrameReader.TryParse(ref ok, limits, out _, out _));

        var eleven = new ReadOnlySequence<byte>(Bytes("SEND\n" + string.Concat(Enumerable.Range(0, 11).Select(i => $"h{i}:v\n"))));
        Assert.Contains("more than 10 headers", Assert.Throws<StompProtocolException>(() => StompFrameReader.TryParse(ref eleven, limits, out _, out _)).Message);
    }

    [Fact]
    public void A_body_without_content_length_is_refused_once_it_passes_the_limit()
    {
        var limits = StompLimits.Default with { MaxBodyBytes = 100 };
        var input = new ReadOnlySequence<byte>(Bytes("SEND\n\n" + new string('b', 200)));
        Assert.Throws<StompProtocolException>(() => StompFrameReader.TryParse(ref input, limits, out _, out _));
    }

    [Fact]
    public void A_frame_that_has_not_fully_arrived_is_left_in_the_buffer()
    {
        var input = new ReadOnlySequence<byte>(Bytes("SEND\ncontent-length:10\n\n12345"));
        Assert.False(StompFrameReader.TryParse(ref input, StompLimits.Default, out var frame, out _));
        Assert.Null(frame);
        Assert.Equal(Bytes("SEND\ncontent-length:10\n\n12345").Length, input.Length);
    }

    [Theory]
    [InlineData(10000, 10000, 5000, 20000, 20000, 10000)] // each side takes the slower of what one offers and the other wants
    [InlineData(0, 10000, 5000, 20000, 0, 10000)]          // we send none
    [InlineData(10000, 0, 5000, 3000, 10000, 0)]           // we want none of theirs
    [InlineData(10000, 10000, 0, 0, 0, 0)]                 // peer does none
    public void Heartbeat_intervals_are_negotiated_as_the_spec_says(int ownX, int ownY, int peerX, int peerY, int send, int receive)
    {
        var (s, r) = StompHeartbeat.Negotiate((ownX, ownY), (peerX, peerY));
        Assert.Equal(TimeSpan.FromMilliseconds(send), s);
        Assert.Equal(TimeSpan.FromMilliseconds(receive), r);
    }

    [Fact]
    public void Heartbeat_headers_parse_and_bad_ones_are_refused()
    {
        Assert.Equal((100, 200), StompHeartbeat.Parse("100,200"));
        Assert.Equal((0, 0), StompHeartbeat.Parse(null));
        Assert.Throws<StompProtocolException>(() => StompHeartbeat.Parse("-1,5"));
        Assert.Throws<StompProtocolException>(() => StompHeartbeat.Parse("abc"));
    }
}
