using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Gateway.Stomp;

/// <summary>What a client says in CONNECT.</summary>
public sealed record StompConnectOptions
{
    /// <summary>The <c>host</c> header: the virtual host (ActiveMQ ignores it, RabbitMQ's STOMP maps it to a vhost).</summary>
    public required string Host { get; init; }

    public string? Login { get; init; }

    public string? Passcode { get; init; }

    /// <summary>Our heart-beat offer in both directions; the broker's answer decides the real intervals.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(10);

    public StompLimits Limits { get; init; } = StompLimits.Default;
}

/// <summary>The broker answered with an ERROR frame; the connection is closed.</summary>
public sealed class StompErrorException(string message, StompFrame? frame = null) : Exception(message)
{
    public StompFrame? Frame { get; } = frame;
}

/// <summary>
/// A STOMP 1.2 client connection over any duplex stream (TCP, TLS): CONNECT, frames out with or
/// without a receipt, frames in, heart-beats both ways.
/// </summary>
/// <remarks>
/// Any failure (an ERROR frame, a broken stream, heart-beats missed) faults the whole connection:
/// every receipt still awaited fails with the cause, so a sender never waits on a dead link.
/// </remarks>
public sealed class StompClientConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly StompLimits _limits;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StompFrame>> _receipts = new();
    private readonly CancellationTokenSource _closing = new(), _broken = new();
    private readonly Channel<StompFrame> _messages = Channel.CreateBounded<StompFrame>(
        new BoundedChannelOptions(10_000) { SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly TaskCompletionSource<StompFrame> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task? _readLoop, _heartbeatLoop;
    private Task _heartbeatWrite = Task.CompletedTask;
    private long _lastReceivedTicks, _lastSentTicks;
    private Exception? _failure;

    private StompClientConnection(Stream stream, StompLimits limits)
    {
        _stream = stream;
        _limits = limits;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _lastReceivedTicks = _lastSentTicks = Environment.TickCount64;
    }

    /// <summary>The CONNECTED frame's headers (server, version, session, heart-beat).</summary>
    public StompFrame Connected { get; private set; } = null!;

    public TimeSpan SendHeartbeat { get; private set; }

    public TimeSpan ReceiveHeartbeat { get; private set; }

    /// <summary>Why the connection failed, once it has.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Cancelled once the connection has failed (see <see cref="Failure"/>), also when nothing was
    /// being sent or awaited: missed heart-beats, the broker closing, a broken stream.
    /// </summary>
    public CancellationToken Broken => _broken.Token;

    /// <summary>MESSAGE frames from subscriptions, in the order the broker sent them.</summary>
    public ChannelReader<StompFrame> Messages => _messages.Reader;

    public static async Task<StompClientConnection> ConnectAsync(Stream stream, StompConnectOptions options, CancellationToken cancellationToken)
    {
        var connection = new StompClientConnection(stream, options.Limits);
        var offer = ((int)options.Heartbeat.TotalMilliseconds, (int)options.Heartbeat.TotalMilliseconds);
        var headers = new List<(string, string)> { ("accept-version", "1.2"), ("host", options.Host), ("heart-beat", StompHeartbeat.Format(offer)) };
        if (options.Login is not null) headers.Add(("login", options.Login));
        if (options.Passcode is not null) headers.Add(("passcode", options.Passcode));

        connection._readLoop = Task.Run(connection.ReadLoopAsync);
        try
        {
            await connection.WriteAsync([StompFrame.Create(StompCommand.Connect, [.. headers])], cancellationToken).ConfigureAwait(false);
            var connected = await connection._connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (connected["version"] is { } version && version != "1.2")
                throw new StompProtocolException($"the broker chose STOMP {version}; 1.2 is required");
            connection.Connected = connected;
            (connection.SendHeartbeat, connection.ReceiveHeartbeat) = StompHeartbeat.Negotiate(offer, StompHeartbeat.Parse(connected["heart-beat"]));
            connection._heartbeatLoop = Task.Run(connection.HeartbeatLoopAsync);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Writes the frames in one go (pipelined: nothing waits between them).</summary>
    public async Task WriteAsync(IReadOnlyList<StompFrame> frames, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        var buffer = new ArrayBufferWriter<byte>(4096);
        foreach (var frame in frames) StompFrameWriter.Write(frame, buffer);
        await WriteBytesAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the frames, the last of which carries <c>receipt:<paramref name="receiptId"/></c>, and
    /// completes when that RECEIPT arrives. Fails if an ERROR comes first or the connection breaks.
    /// </summary>
    public Task<StompFrame> WriteAndAwaitReceiptAsync(IReadOnlyList<StompFrame> frames, string receiptId, CancellationToken cancellationToken) =>
        WriteAndAwaitReceiptAsync(frames, receiptId, written: null, cancellationToken);

    /// <inheritdoc cref="WriteAndAwaitReceiptAsync(IReadOnlyList{StompFrame}, string, CancellationToken)"/>
    /// <param name="written">Called once the frames are written, before the wait for the receipt.</param>
    public async Task<StompFrame> WriteAndAwaitReceiptAsync(IReadOnlyList<StompFrame> frames, string receiptId, Action? written, CancellationToken cancellationToken)
    {
        var receipt = new TaskCompletionSource<StompFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_receipts.TryAdd(receiptId, receipt)) throw new InvalidOperationException($"receipt '{receiptId}' is already awaited");
        try
        {
            await WriteAsync(frames, cancellationToken).ConfigureAwait(false);
            written?.Invoke();
            if (Failure is { } failure) receipt.TrySetException(failure); // failed between the check and the registration
            return await receipt.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _receipts.TryRemove(receiptId, out _);
        }
    }

    private async Task WriteBytesAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastSentTicks, Environment.TickCount64);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            Fail(new IOException($"writing to the broker failed: {ex.Message}", ex));
            throw Failure!;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(_closing.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty) Volatile.Write(ref _lastReceivedTicks, Environment.TickCount64);
                while (StompFrameReader.TryParse(ref buffer, _limits, out var frame, out _))
                    await DispatchAsync(frame!).ConfigureAwait(false);
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    Fail(new IOException("the broker closed the connection"));
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            Fail(new ObjectDisposedException(nameof(StompClientConnection), "the connection was closed"));
        }
        catch (Exception ex)
        {
            Fail(ex is StompProtocolException or StompErrorException ? ex : new IOException($"reading from the broker failed: {ex.Message}", ex));
        }
    }

    private async ValueTask DispatchAsync(StompFrame frame)
    {
        switch (frame.Command)
        {
            case StompCommand.Connected:
                _connected.TrySetResult(frame);
                break;
            case StompCommand.Receipt when frame["receipt-id"] is { } id && _receipts.TryGetValue(id, out var waiting):
                waiting.TrySetResult(frame);
                break;
            case StompCommand.Message:
                await _messages.Writer.WriteAsync(frame, _closing.Token).ConfigureAwait(false);
                break;
            case StompCommand.Error:
                var detail = frame.Body.IsEmpty ? "" : ": " + System.Text.Encoding.UTF8.GetString(frame.Body.Span).Trim();
                throw new StompErrorException($"the broker sent ERROR '{frame["message"]}'{detail}", frame);
        }
    }

    /// <summary>Sends EOLs when we have been quiet, and faults the connection when the broker has been quiet too long.</summary>
    private async Task HeartbeatLoopAsync()
    {
        if (SendHeartbeat == TimeSpan.Zero && ReceiveHeartbeat == TimeSpan.Zero) return;
        var tick = TimeSpan.FromMilliseconds(Math.Max(100, Math.Min(
            SendHeartbeat == TimeSpan.Zero ? double.MaxValue : SendHeartbeat.TotalMilliseconds / 2,
            ReceiveHeartbeat == TimeSpan.Zero ? double.MaxValue : ReceiveHeartbeat.TotalMilliseconds / 2)));
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_closing.Token).ConfigureAwait(false) && Failure is null)
            {
                var now = Environment.TickCount64;
                // The spec allows for network delay; twice the interval is the usual tolerance.
                if (ReceiveHeartbeat > TimeSpan.Zero && now - Volatile.Read(ref _lastReceivedTicks) > 2 * ReceiveHeartbeat.TotalMilliseconds)
                {
                    Fail(new TimeoutException($"missed heart-beats: nothing from the broker for {2 * ReceiveHeartbeat.TotalSeconds:0.#} s"));
                    return;
                }
                if (SendHeartbeat > TimeSpan.Zero && now - Volatile.Read(ref _lastSentTicks) >= SendHeartbeat.TotalMilliseconds / 2)
                    StartHeartbeatWrite();
            }
        }
        catch (Exception) when (_closing.IsCancellationRequested || Failure is not null)
        {
            // closing, or the failure is already recorded
        }
    }

    /// <summary>
    /// Sends a heart-beat without waiting for it: a frozen broker stops reading, the write then blocks
    /// once the socket buffers are full, and the loop must still be free to notice the broker's silence.
    /// One at a time; a frame being written counts as traffic anyway.
    /// </summary>
    private void StartHeartbeatWrite()
    {
        if (!_heartbeatWrite.IsCompleted) return;
        _heartbeatWrite = WriteBytesAsync("\n"u8.ToArray(), _closing.Token)
            .ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private void Fail(Exception failure)
    {
        if (Interlocked.CompareExchange(ref _failure, failure, null) is not null) return;
        _connected.TrySetException(failure);
        foreach (var waiting in _receipts.Values) waiting.TrySetException(failure);
        _messages.Writer.TryComplete(failure);
        // Off this thread: whoever watches Broken closes the connection, which waits for this loop.
        ThreadPool.UnsafeQueueUserWorkItem(static broken => broken.Cancel(), _broken, preferLocal: false);
    }

    private void ThrowIfFailed()
    {
        if (Failure is { } failure) throw failure is StompErrorException or TimeoutException ? failure : new IOException(failure.Message, failure);
    }

    /// <summary>Sends DISCONNECT with a receipt when still healthy (a clean goodbye), then closes.</summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        if (Failure is not null) return;
        await WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Disconnect, ("receipt", "bye"))], "bye", cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        Fail(new ObjectDisposedException(nameof(StompClientConnection), "the connection was closed"));
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // already broken
        }
        foreach (var loop in new[] { _readLoop, _heartbeatLoop, _heartbeatWrite })
        {
            if (loop is not null) await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await _input.CompleteAsync().ConfigureAwait(false);
        _closing.Dispose();
    }
}
