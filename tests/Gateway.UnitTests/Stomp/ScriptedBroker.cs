using System.Buffers;
using Gateway.Stomp;

namespace Gateway.UnitTests.Stomp;

/// <summary>The broker's side: reads frames the client sends, writes what the test says.</summary>
internal sealed class ScriptedBroker(Stream stream)
{
    private ReadOnlySequence<byte> _pending = ReadOnlySequence<byte>.Empty;
    public int HeartbeatsSeen { get; private set; }

    public async Task<StompFrame> ReadFrameAsync()
    {
        var buffer = new byte[4096];
        while (true)
        {
            var pending = _pending;
            var parsed = StompFrameReader.TryParse(ref pending, StompLimits.Default, out var frame, out var heartbeats);
            HeartbeatsSeen += heartbeats;
            _pending = new ReadOnlySequence<byte>(pending.ToArray());
            if (parsed) return frame!;
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Patience.Reaction);
            if (read == 0) throw new EndOfStreamException();
            _pending = new ReadOnlySequence<byte>([.. _pending.ToArray(), .. buffer.AsSpan(0, read).ToArray()]);
        }
    }

    /// <summary>Reads until <paramref name="count"/> heart-beats (bare EOLs) have arrived.</summary>
    public async Task WaitForHeartbeatsAsync(int count)
    {
        var buffer = new byte[256];
        while (HeartbeatsSeen < count)
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Patience.Reaction);
            var input = new ReadOnlySequence<byte>(buffer.AsMemory(0, read));
            Assert.False(StompFrameReader.TryParse(ref input, StompLimits.Default, out _, out var heartbeats));
            HeartbeatsSeen += heartbeats;
        }
    }

    public async Task SendAsync(StompFrame frame)
    {
        var output = new ArrayBufferWriter<byte>();
        StompFrameWriter.Write(frame, output);
        await stream.WriteAsync(output.WrittenMemory);
        await stream.FlushAsync();
    }
}
