using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;
using Gateway.Stomp;
using Gateway.Stomp.Server;

namespace Gateway.UnitTests.Stomp;

/// <summary>A transport made of two in-memory pipes: what the client writes, what the session writes.</summary>
internal sealed class PipeTransport(bool oneFramePerSend = false) : IStompTransport
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));

    public PipeReader Input => _toServer.Reader;
    public bool OneFramePerSend => oneFramePerSend;
    public PipeWriter FromClient => _toServer.Writer;
    public PipeReader ToClient => _toClient.Reader;
    public int Sends;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Sends);
        await _toClient.Writer.WriteAsync(frames, cancellationToken);
    }

    public ValueTask CloseAsync()
    {
        _toClient.Writer.Complete();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A backend that records what the session asks of it and lets a test hold or refuse.</summary>
internal sealed class RecordingBackend : IStompBackend
{
    public ConcurrentQueue<(IReadOnlyList<StompFrame> Sends, bool Durable)> Sends { get; } = new();
    public ConcurrentDictionary<string, StompSubscription> Subscriptions { get; } = new();
    public int Released;

    /// <summary>Runs on every SEND call; may wait (a slow disk) or throw (a refusal).</summary>
    public Func<IReadOnlyList<StompFrame>, bool, Task>? OnSend { get; set; }

    public async ValueTask SendAsync(IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken)
    {
        if (OnSend is not null) await OnSend(sends, durable);
        Sends.Enqueue((sends, durable));
    }

    /// <summary>Held by a test to show DISCONNECT's receipt waits for earlier SENDs to be stored.</summary>
    public Task Flushed { get; set; } = Task.CompletedTask;

    public int Flushes;

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Flushes);
        await Flushed.WaitAsync(cancellationToken);
    }

    public IDisposable Subscribe(StompSubscription subscription)
    {
        if (subscription.Destination.StartsWith("/refused/", StringComparison.Ordinal))
            throw new StompRefusedException($"destination '{subscription.Destination}' is not served here");
        Subscriptions[subscription.Id] = subscription;
        return new Registration(this, subscription.Id);
    }

    private sealed class Registration(RecordingBackend backend, string id) : IDisposable
    {
        public void Dispose()
        {
            backend.Subscriptions.TryRemove(id, out _);
            Interlocked.Increment(ref backend.Released);
        }
    }
}

/// <summary>One session under test and the client's end of it.</summary>
internal sealed class SessionUnderTest : IAsyncDisposable
{
    private ReadOnlySequence<byte> _pending = ReadOnlySequence<byte>.Empty;
    private readonly CancellationTokenSource _stop = new();

    public SessionUnderTest(StompServerOptions? options = null, bool oneFramePerSend = false)
    {
        Transport = new PipeTransport(oneFramePerSend);
        Session = new StompServerSession("s1", Transport, Backend, options ?? new StompServerOptions { HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero });
        Running = Session.RunAsync(_stop.Token);
    }

    public PipeTransport Transport { get; }
    public RecordingBackend Backend { get; } = new();
    public StompServerSession Session { get; }
    public Task Running { get; }
    public int HeartbeatsSeen { get; private set; }

    public static async Task<SessionUnderTest> ConnectedAsync(string version = "1.2", StompServerOptions? options = null)
    {
        var s = new SessionUnderTest(options);
        await s.SendAsync(StompFrame.Create(StompCommand.Connect, ("accept-version", version), ("host", "gw")));
        var connected = await s.ReadAsync();
        Assert.Equal(StompCommand.Connected, connected.Command);
        return s;
    }

    public Task SendAsync(StompCommand command, params (string, string)[] headers) => SendAsync(StompFrame.Create(command, headers));

    public async Task SendAsync(StompFrame frame)
    {
        var output = new ArrayBufferWriter<byte>();
        StompFrameWriter.Write(frame, output);
        await Transport.FromClient.WriteAsync(output.WrittenMemory);
    }

    public async Task SendRawAsync(string text) => await Transport.FromClient.WriteAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>The next frame the session wrote (heart-beats counted and skipped); fails if the session closes first.</summary>
    public async Task<StompFrame> ReadAsync() => await TryReadAsync() ?? throw new Xunit.Sdk.XunitException("the session closed the connection instead of sending a frame");

    public Task<StompFrame?> TryReadAsync() => TryReadAsync(untilHeartbeats: int.MaxValue);

    /// <summary>Reads until <paramref name="count"/> heart-beats in all have arrived; fails if a frame comes instead.</summary>
    public async Task WaitForHeartbeatsAsync(int count)
    {
        var frame = await TryReadAsync(count);
        if (frame is not null) throw new Xunit.Sdk.XunitException($"expected only heart-beats, got {frame}");
        if (HeartbeatsSeen < count) throw new Xunit.Sdk.XunitException("the session closed before sending the heart-beats");
    }

    private async Task<StompFrame?> TryReadAsync(int untilHeartbeats)
    {
        var reader = Transport.ToClient;
        while (true)
        {
            var pending = _pending;
            var parsed = StompFrameReader.TryParse(ref pending, StompLimits.Default, out var frame, out var heartbeats);
            HeartbeatsSeen += heartbeats;
            _pending = new ReadOnlySequence<byte>(pending.ToArray());
            if (parsed) return frame;
            if (HeartbeatsSeen >= untilHeartbeats) return null;
            var result = await reader.ReadAsync().AsTask().WaitAsync(Patience.Reaction);
            var bytes = result.Buffer.ToArray();
            reader.AdvanceTo(result.Buffer.End);
            if (bytes.Length == 0 && result.IsCompleted) return null;
            _pending = new ReadOnlySequence<byte>([.. _pending.ToArray(), .. bytes]);
        }
    }

    /// <summary>Reads until the session closes; returns the ERROR it sent last (null when it closed without one).</summary>
    public async Task<StompFrame?> ReadUntilClosedAsync()
    {
        StompFrame? last = null;
        while (await TryReadAsync() is { } frame) last = frame;
        await Running.WaitAsync(Patience.Reaction);
        return last?.Command == StompCommand.Error ? last : null;
    }

    /// <summary>Asserts the session answered with ERROR (message header containing <paramref name="expected"/>) and closed.</summary>
    public async Task<StompFrame> ExpectErrorAndCloseAsync(string expected)
    {
        var error = await ReadUntilClosedAsync();
        Assert.NotNull(error);
        Assert.Contains(expected, error!["message"]);
        return error;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Transport.FromClient.Complete();
        _ = Transport.ToClient.CompleteAsync();
        await Running.WaitAsync(Patience.Reaction);
    }
}
