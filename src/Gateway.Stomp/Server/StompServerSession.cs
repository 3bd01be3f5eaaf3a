using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Gateway.Stomp.Server;

/// <summary>
/// The server side of one STOMP 1.0/1.1/1.2 connection over any transport: CONNECT and version
/// negotiation, SEND, SUBSCRIBE/UNSUBSCRIBE, ACK/NACK in the three ack modes, transactions,
/// receipts, heart-beats both ways, and an ERROR frame (then close) for every protocol violation.
/// </summary>
/// <remarks>
/// <para>One read loop handles the client's frames in order; a SEND with a receipt is answered only
/// once the backend says the message is stored. Everything the session writes goes through one
/// queue drained by one write loop, so frames never interleave.</para>
/// <para>Deliveries come from other threads (the broker's fan-out) and never wait: each is queued,
/// and a client with more than <see cref="StompServerOptions.MaxPendingMessages"/> queued or
/// unacknowledged MESSAGE frames is disconnected as a slow consumer, with the reason in an ERROR
/// frame. A slow client never holds up a publisher or another subscriber.</para>
/// <para>This file holds the state, the read and write loops and closing; the frame handlers, the
/// subscriptions, the transactions and the heart-beats are in the partial files named after them.</para>
/// </remarks>
public sealed partial class StompServerSession
{
    private static readonly string[] SupportedVersions = ["1.2", "1.1", "1.0"];

    private readonly IStompTransport _transport;
    private readonly IStompBackend _backend;
    private readonly StompServerOptions _options;
    private readonly Channel<Outbound> _outbound = Channel.CreateUnbounded<Outbound>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopReading = new();
    private readonly CancellationTokenSource _abortWriting = new();
    private readonly Lock _gate = new();

    // Guarded by _gate: subscriptions, messages awaiting an ACK, the closing state.
    private readonly Dictionary<string, (StompSubscription Subscription, IDisposable Registration)> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (StompSubscription Subscription, long Sequence)> _awaitingAck = new(StringComparer.Ordinal);
    private long _messageSequence;
    private bool _closing;
    private bool _dropQueuedMessages;

    // Read loop only.
    private readonly Dictionary<string, List<StompFrame>> _transactions = new(StringComparer.Ordinal);
    private long _transactionBytes;
    private bool _connected;
    private Task? _heartbeats;

    // Shared by the loops and the bus's threads, read and written with Interlocked and Volatile.
    private int _pendingMessages;
    private int _queuedFrames;
    private long _pendingBytes;
    private long _lastReadTicks, _lastWriteTicks, _busySinceTicks;
    private long _messagesDelivered;

    public StompServerSession(string id, IStompTransport transport, IStompBackend backend, StompServerOptions options)
    {
        Id = id;
        _transport = transport;
        _backend = backend;
        _options = options;
        _lastReadTicks = _lastWriteTicks = Environment.TickCount64;
    }

    /// <summary>The <c>session</c> header of CONNECTED; prefix of every message id.</summary>
    public string Id { get; }

    /// <summary>The negotiated protocol version, once connected.</summary>
    public string? Version { get; private set; }

    /// <summary>The user the backend verified at CONNECT (<see cref="IStompBackend.ConnectAsync"/>); null for an anonymous client.</summary>
    public string? User { get; private set; }

    public TimeSpan SendHeartbeat { get; private set; }

    public TimeSpan ReceiveHeartbeat { get; private set; }

    public StompCloseKind? CloseKind { get; private set; }

    /// <summary>Why the session ended, in words (the ERROR's message, or what happened).</summary>
    public string? CloseReason { get; private set; }

    /// <summary>The unexpected exception behind <see cref="StompCloseKind.InternalError"/>.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>MESSAGE frames written to the client so far.</summary>
    public long MessagesDelivered => Interlocked.Read(ref _messagesDelivered);

    public int SubscriptionCount
    {
        get
        {
            lock (_gate) return _subscriptions.Count;
        }
    }

    /// <summary>Serves the connection until it ends, then releases every subscription. Never throws for the client's faults.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopReading.Token);
        var writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        try
        {
            await ReadLoopAsync(stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            if (cancellationToken.IsCancellationRequested) Close(StompCloseKind.ConnectionLost, "the server is stopping", error: "the server is stopping");
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Close(StompCloseKind.ConnectionLost, $"reading failed: {ex.Message}", error: null);
        }
        catch (Exception ex)
        {
            Fault = ex;
            Close(StompCloseKind.InternalError, $"internal error: {ex.Message}", error: "internal error; the connection is closed");
        }
        finally
        {
            Close(StompCloseKind.ClientClosed, "the client closed the connection", error: null);
            ReleaseSubscriptions();
            // Give the goodbye (ERROR, RECEIPT) its chance to be written, then cut the connection.
            if (await Task.WhenAny(writer, Task.Delay(_options.CloseGrace, CancellationToken.None)).ConfigureAwait(false) != writer)
                await _abortWriting.CancelAsync().ConfigureAwait(false);
            await writer.ConfigureAwait(false);
            await _stopReading.CancelAsync().ConfigureAwait(false);
            if (_heartbeats is not null) await _heartbeats.ConfigureAwait(false);
            // Stop taking input before closing: a transport still pouring bytes in must not wait on us.
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            await _transport.CloseAsync().ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- reading

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var input = _transport.Input;
        using var connectDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectDeadline.CancelAfter(_options.ConnectTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(_connected ? cancellationToken : connectDeadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_connected && connectDeadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                var seconds = _options.ConnectTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
                Close(StompCloseKind.Timeout, $"no CONNECT within {seconds} s", $"expected a CONNECT frame within {seconds} s");
                return;
            }

            var buffer = result.Buffer;
            if (!buffer.IsEmpty) Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
            try
            {
                while (!IsClosing && StompFrameReader.TryParse(ref buffer, _options.Limits, out var frame, out _))
                {
                    var wasConnected = _connected;
                    await HandleAsync(frame!, cancellationToken).ConfigureAwait(false);
                    if (!wasConnected && _connected) _heartbeats = Task.Run(() => HeartbeatLoopAsync(cancellationToken), CancellationToken.None);
                }
            }
            catch (StompProtocolException ex)
            {
                Close(StompCloseKind.ProtocolError, ex.Message, ex.Message);
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (IsClosing) return;
            if (result.IsCompleted || result.IsCanceled)
            {
                Close(StompCloseKind.ClientClosed, buffer.IsEmpty ? "the client closed the connection" : "the client closed the connection in the middle of a frame", error: null);
                return;
            }
        }
    }

    private bool IsClosing
    {
        get
        {
            lock (_gate) return _closing;
        }
    }

    // ---------------------------------------------------------------- writing

    private readonly record struct Outbound(StompFrame? Frame, bool IsMessage = false, bool SettledWhenWritten = false);

    private void Enqueue(StompFrame frame)
    {
        // Answers to the client's own frames: a client that sends without ever reading its answers
        // is cut off too, rather than queueing them without bound.
        if (Interlocked.Increment(ref _queuedFrames) > 2 * _options.MaxPendingMessages + 16 && frame.Command != StompCommand.Error)
        {
            Close(StompCloseKind.SlowConsumer, "slow consumer: the client does not read its receipts", "slow consumer: too many answers queued; the client is not reading");
            return;
        }
        _outbound.Writer.TryWrite(new Outbound(frame));
    }

    private static StompFrame Receipt(string receipt) => StompFrame.Create(StompCommand.Receipt, ("receipt-id", receipt));

    private async Task WriteLoopAsync()
    {
        var reader = _outbound.Reader;
        var buffer = new ArrayBufferWriter<byte>(4096);
        var cancellationToken = _abortWriting.Token;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    Interlocked.Decrement(ref _queuedFrames);
                    if (item.IsMessage)
                    {
                        Interlocked.Add(ref _pendingBytes, -item.Frame!.Body.Length);
                        if (item.SettledWhenWritten) Interlocked.Decrement(ref _pendingMessages);
                        if (Volatile.Read(ref _dropQueuedMessages)) continue;
                        Interlocked.Increment(ref _messagesDelivered);
                    }
                    if (item.Frame is null) StompFrameWriter.WriteHeartbeat(buffer);
                    else StompFrameWriter.Write(item.Frame, buffer);

                    if (_transport.OneFramePerSend || buffer.WrittenCount >= 64 * 1024)
                    {
                        await FlushAsync(buffer, cancellationToken).ConfigureAwait(false);
                    }
                }
                if (buffer.WrittenCount > 0) await FlushAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // cut off after the close grace
        }
        catch (Exception ex)
        {
            Close(StompCloseKind.ConnectionLost, $"writing failed: {ex.Message}", error: null);
            await _stopReading.CancelAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask FlushAsync(ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        await _transport.SendAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        buffer.ResetWrittenCount();
        Volatile.Write(ref _lastWriteTicks, Environment.TickCount64);
    }

    // ---------------------------------------------------------------- closing

    /// <summary>Ends the session (once): queues the ERROR when there is one, stops deliveries and reading.</summary>
    private void Close(StompCloseKind kind, string reason, string? error, string? receipt = null, StompFrame? offending = null, StompFrame? errorFrame = null)
    {
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            CloseKind = kind;
            CloseReason = reason;
            foreach (var (subscription, _) in _subscriptions.Values) subscription.Deactivate();
            if (kind == StompCloseKind.SlowConsumer) Volatile.Write(ref _dropQueuedMessages, true);
        }
        if (error is not null && errorFrame is null)
        {
            var headers = new List<(string, string)> { ("message", error), ("content-type", "text/plain") };
            if (receipt is not null) headers.Add(("receipt-id", receipt));
            var detail = offending is null ? error : $"{error}\n\nThe frame: {Name(offending.Command)} with headers {string.Join(", ", offending.Headers.Select(h => h.Key))}";
            errorFrame = StompFrame.Create(StompCommand.Error, System.Text.Encoding.UTF8.GetBytes(detail + "\n"), [.. headers]);
        }
        if (errorFrame is not null) Enqueue(errorFrame);
        _outbound.Writer.TryComplete();
        _stopReading.Cancel();
    }

    private void Close(StompCloseKind kind, string reason, StompFrame errorFrame) => Close(kind, reason, error: null, errorFrame: errorFrame);

    private void ReleaseSubscriptions()
    {
        List<IDisposable> registrations;
        lock (_gate)
        {
            registrations = _subscriptions.Values.Select(s => s.Registration).ToList();
            _subscriptions.Clear();
            _awaitingAck.Clear();
        }
        foreach (var registration in registrations) registration.Dispose();
        _transactions.Clear(); // open transactions are aborted with the connection (STOMP 1.2)
    }

    private static string Name(StompCommand command) => command.ToString().ToUpperInvariant();
}
