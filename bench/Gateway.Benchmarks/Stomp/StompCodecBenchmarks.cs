using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Stomp;

namespace Gateway.Benchmarks.Stomp;

/// <summary>
/// The STOMP 1.2 codec on its own: no sockets, no pipes. Every parse starts from bytes already in
/// memory, so the numbers are the reader's and writer's CPU and allocations per frame.
/// </summary>
[MemoryDiagnoser]
public class StompCodecBenchmarks
{
    private const int FramesBackToBack = 100;

    private readonly StompLimits _limits = StompLimits.Default;
    private byte[] _send = [], _messageEscaped = [], _hundredSends = [];
    private ReadOnlySequence<byte> _splitSend;
    private StompFrame _message = null!;
    private ArrayBufferWriter<byte> _output = null!;

    [Params(64, 1024, 65536)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var send = StompFrames.Send(BodySize);
        _send = StompFrames.Encode(send);
        _messageEscaped = StompFrames.Encode(StompFrames.MessageWithEscapes(BodySize));
        _hundredSends = StompFrames.Encode(send, FramesBackToBack);

        // Three segments: the first cut falls inside the destination header line (so that line spans two
        // segments), the second inside the body.
        var headerCut = Array.IndexOf(_send, (byte)'/') + 10;
        var bodyCut = _send.Length - Math.Max(2, BodySize / 2);
        _splitSend = SegmentedSequence.Split(_send, headerCut, bodyCut);

        _message = StompFrames.Message(BodySize);
        _output = new ArrayBufferWriter<byte>(_send.Length + 512);

        // Fail here, not in the middle of a run, if a buffer is not what it should be.
        if (ParseSend() is not { Command: StompCommand.Send } parsed || parsed.Body.Length != BodySize)
            throw new InvalidOperationException("SEND did not parse back");
        if (ParseMessageWithEscapes()["x-path"] != @"C:\data\export\line3")
            throw new InvalidOperationException("escaped MESSAGE did not parse back");
        if (_splitSend.IsSingleSegment || ParseSendSplitInThreeSegments().Body.Length != BodySize)
            throw new InvalidOperationException("split SEND did not parse back");
        if (Parse100FramesBackToBack() != FramesBackToBack)
            throw new InvalidOperationException("the 100 frames did not parse back");
    }

    [Benchmark(Description = "Parse SEND")]
    public StompFrame ParseSend()
    {
        var buffer = new ReadOnlySequence<byte>(_send);
        StompFrameReader.TryParse(ref buffer, _limits, out var frame, out _);
        return frame!;
    }

    [Benchmark(Description = "Parse MESSAGE, escaped headers")]
    public StompFrame ParseMessageWithEscapes()
    {
        var buffer = new ReadOnlySequence<byte>(_messageEscaped);
        StompFrameReader.TryParse(ref buffer, _limits, out var frame, out _);
        return frame!;
    }

    [Benchmark(Description = "Parse SEND in 3 segments")]
    public StompFrame ParseSendSplitInThreeSegments()
    {
        var buffer = _splitSend;
        StompFrameReader.TryParse(ref buffer, _limits, out var frame, out _);
        return frame!;
    }

    [Benchmark(Description = "Write MESSAGE (reused buffer)")]
    public int WriteMessage()
    {
        _output.ResetWrittenCount();
        StompFrameWriter.Write(_message, _output);
        return _output.WrittenCount;
    }

    /// <summary>Throughput: reported per frame (OperationsPerInvoke), one buffer holding 100 SENDs.</summary>
    [Benchmark(Description = "Parse 100 SENDs back to back (per frame)", OperationsPerInvoke = FramesBackToBack)]
    public int Parse100FramesBackToBack()
    {
        var buffer = new ReadOnlySequence<byte>(_hundredSends);
        var frames = 0;
        while (StompFrameReader.TryParse(ref buffer, _limits, out _, out _)) frames++;
        return frames;
    }
}

/// <summary>The one "typical" SEND of the brief: the same frame with a 200-byte body, outside the body-size sweep.</summary>
[MemoryDiagnoser]
public class StompTypicalSendBenchmarks
{
    private byte[] _send = [];

    [GlobalSetup]
    public void Setup() => _send = StompFrames.Encode(StompFrames.Send(200));

    [Benchmark(Description = "Parse SEND, 200-byte body")]
    public StompFrame ParseSend200()
    {
        var buffer = new ReadOnlySequence<byte>(_send);
        StompFrameReader.TryParse(ref buffer, StompLimits.Default, out var frame, out _);
        return frame!;
    }
}
