using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Gateway.Stomp.Server;

/// <summary>Why a session ended, for logs and metrics.</summary>
public enum StompCloseKind
{
    /// <summary>DISCONNECT, or the client closed the connection.</summary>
    ClientClosed,

    /// <summary>The client broke the protocol (or a limit): it got an ERROR saying how.</summary>
    ProtocolError,

    /// <summary>The backend refused a SEND or SUBSCRIBE (store full, bad destination): ERROR.</summary>
    Refused,

    /// <summary>The client did not keep up with its subscriptions: ERROR, then cut off.</summary>
    SlowConsumer,

    /// <summary>No heart-beat (or no CONNECT) in time.</summary>
    Timeout,

    /// <summary>The connection broke, or the server is stopping.</summary>
    ConnectionLost,

    /// <summary>A bug on our side; see <see cref="StompServerSession.Fault"/>.</summary>
    InternalError,
}

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
/// </remarks>
public sealed class StompServerSession
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

    private async ValueTask HandleAsync(StompFrame frame, CancellationToken cancellationToken)
    {
        if (!_connected)
        {
            if (frame.Command is not (StompCommand.Connect or StompCommand.Stomp))
                throw new StompProtocolException($"the first frame must be CONNECT or STOMP, not {Name(frame.Command)}");
            Connect(frame);
            return;
        }

        var receipt = frame["receipt"];
        try
        {
            switch (frame.Command)
            {
                case StompCommand.Connect or StompCommand.Stomp:
                    throw new StompProtocolException("already connected: a second CONNECT is not allowed");
                case StompCommand.Send:
                    await SendAsync(frame, receipt is not null, cancellationToken).ConfigureAwait(false);
                    break;
                case StompCommand.Subscribe:
                    Subscribe(frame);
                    break;
                case StompCommand.Unsubscribe:
                    Unsubscribe(frame);
                    break;
                case StompCommand.Ack or StompCommand.Nack:
                    AckOrBuffer(frame);
                    break;
                case StompCommand.Begin:
                    Begin(frame);
                    break;
                case StompCommand.Commit:
                    await CommitAsync(frame, receipt is not null, cancellationToken).ConfigureAwait(false);
                    break;
                case StompCommand.Abort:
                    Abort(frame);
                    break;
                case StompCommand.Disconnect:
                    // The goodbye receipt promises everything before it was processed: SENDs without a
                    // receipt too, so wait until they are stored.
                    if (receipt is not null)
                    {
                        await _backend.FlushAsync(cancellationToken).ConfigureAwait(false);
                        Enqueue(Receipt(receipt));
                    }
                    Close(StompCloseKind.ClientClosed, "DISCONNECT", error: null);
                    return;
                default:
                    throw new StompProtocolException($"{Name(frame.Command)} is a server frame; a client must not send it");
            }
        }
        catch (StompProtocolException ex)
        {
            Close(StompCloseKind.ProtocolError, ex.Message, ex.Message, receipt, frame);
            return;
        }
        catch (StompRefusedException ex)
        {
            Close(StompCloseKind.Refused, ex.Message, ex.Message, receipt, frame);
            return;
        }
        // A SEND, ACK or NACK inside a transaction is answered at COMMIT (or ABORT), not before it is stored.
        if (receipt is not null && !(frame.Command is StompCommand.Send or StompCommand.Ack or StompCommand.Nack && frame["transaction"] is not null))
            Enqueue(Receipt(receipt));
    }

    private void Connect(StompFrame frame)
    {
        var accepted = frame["accept-version"];
        // No accept-version header: a STOMP 1.0 client (STOMP 1.2, "Protocol Negotiation").
        var offered = accepted is null ? ["1.0"] : accepted.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var version = SupportedVersions.FirstOrDefault(offered.Contains);
        if (version is null)
        {
            var error = StompFrame.Create(StompCommand.Error, System.Text.Encoding.UTF8.GetBytes($"Supported protocol versions are {string.Join(" ", SupportedVersions.Reverse())}\n"),
                ("version", string.Join(",", SupportedVersions.Reverse())), ("content-type", "text/plain"),
                ("message", $"no common protocol version: the client accepts '{accepted}', this server speaks {string.Join(", ", SupportedVersions.Reverse())}"));
            Close(StompCloseKind.ProtocolError, "no common protocol version", errorFrame: error);
            return;
        }

        var own = ((int)_options.HeartbeatSend.TotalMilliseconds, (int)_options.HeartbeatReceive.TotalMilliseconds);
        var peer = StompHeartbeat.Parse(frame["heart-beat"]);
        (SendHeartbeat, ReceiveHeartbeat) = StompHeartbeat.Negotiate(own, peer);
        Version = version;
        _connected = true;
        Enqueue(StompFrame.Create(StompCommand.Connected,
            ("version", version),
            ("heart-beat", StompHeartbeat.Format(own)),
            ("server", _options.ServerName),
            ("session", Id)));
    }

    private async ValueTask SendAsync(StompFrame frame, bool durable, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(frame["destination"])) throw new StompProtocolException("SEND without a destination header");
        if (frame["transaction"] is { } transaction)
        {
            AddToTransaction(transaction, frame);
            return;
        }
        await CallBackendAsync([frame], durable, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask CallBackendAsync(IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken)
    {
        // While the backend waits for the disk, the client's heart-beats sit unread in the socket:
        // the heart-beat check must not count that time against the client.
        Volatile.Write(ref _busySinceTicks, Environment.TickCount64);
        try
        {
            await _backend.SendAsync(sends, durable, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _busySinceTicks, 0);
            Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
        }
    }

    private void Subscribe(StompFrame frame)
    {
        var destination = frame["destination"];
        if (string.IsNullOrEmpty(destination)) throw new StompProtocolException("SUBSCRIBE without a destination header");
        var id = frame["id"];
        if (string.IsNullOrEmpty(id))
        {
            // STOMP 1.0 made the id optional; 1.1 and 1.2 require it.
            if (Version != "1.0") throw new StompProtocolException("SUBSCRIBE without an id header");
            id = destination;
        }
        var ackMode = frame["ack"] switch
        {
            null or "auto" => StompAckMode.Auto,
            "client" => StompAckMode.Client,
            "client-individual" => StompAckMode.ClientIndividual,
            var other => throw new StompProtocolException($"ack mode '{other}' is not one of auto, client, client-individual"),
        };

        lock (_gate)
        {
            if (_subscriptions.ContainsKey(id)) throw new StompProtocolException($"subscription id '{id}' is already in use on this connection");
            if (_subscriptions.Count >= _options.MaxSubscriptionsPerConnection)
                throw new StompProtocolException($"too many subscriptions: at most {_options.MaxSubscriptionsPerConnection} per connection");
        }
        var subscription = new StompSubscription(this, id, destination, ackMode, frame.Headers);
        var registration = _backend.Subscribe(subscription);
        lock (_gate)
        {
            if (!_closing)
            {
                _subscriptions.Add(id, (subscription, registration));
                return;
            }
        }
        subscription.Deactivate();
        registration.Dispose();
    }

    private void Unsubscribe(StompFrame frame)
    {
        var id = frame["id"] ?? (Version == "1.0" ? frame["destination"] : null);
        if (string.IsNullOrEmpty(id)) throw new StompProtocolException("UNSUBSCRIBE without an id header");
        (StompSubscription Subscription, IDisposable Registration) entry;
        lock (_gate)
        {
            if (!_subscriptions.Remove(id, out entry)) throw new StompProtocolException($"no subscription with id '{id}' on this connection");
            entry.Subscription.Deactivate();
            // Its messages awaiting an ACK will never get one: they stop counting against the client.
            foreach (var sequence in entry.Subscription.Unacknowledged)
            {
                if (_awaitingAck.Remove(AckId(sequence))) Interlocked.Decrement(ref _pendingMessages);
            }
            entry.Subscription.Unacknowledged.Clear();
        }
        entry.Registration.Dispose();
    }

    private void AckOrBuffer(StompFrame frame)
    {
        // 1.2 names the message by the MESSAGE's ack header (id); 1.0 and 1.1 by its message-id.
        var ackId = Version == "1.2" ? frame["id"] : frame["message-id"] ?? frame["id"];
        if (string.IsNullOrEmpty(ackId)) throw new StompProtocolException($"{Name(frame.Command)} without an {(Version == "1.2" ? "id" : "message-id")} header");
        if (!WasIssued(ackId))
            throw new StompProtocolException($"{Name(frame.Command)} for '{ackId}', which is no message sent on this connection");
        if (frame["transaction"] is { } transaction)
        {
            AddToTransaction(transaction, frame);
            return;
        }
        Acknowledge(ackId);
    }

    /// <summary>ACK and NACK both settle the message: the bus is live, a NACKed message is not sent again.</summary>
    private void Acknowledge(string ackId)
    {
        lock (_gate)
        {
            if (!_awaitingAck.Remove(ackId, out var entry)) return; // settled meanwhile (cumulatively, or its subscription went)
            Interlocked.Decrement(ref _pendingMessages);
            var unacknowledged = entry.Subscription.Unacknowledged;
            unacknowledged.Remove(entry.Sequence);
            if (entry.Subscription.AckMode != StompAckMode.Client) return;
            // Cumulative: everything of this subscription up to this one.
            while (unacknowledged.Count > 0 && unacknowledged.Min <= entry.Sequence)
            {
                var earlier = unacknowledged.Min;
                unacknowledged.Remove(earlier);
                if (_awaitingAck.Remove(AckId(earlier))) Interlocked.Decrement(ref _pendingMessages);
            }
        }
    }

    /// <summary>
    /// Whether this session ever handed out <paramref name="ackId"/>: an ACK for a message already
    /// settled (cumulatively, twice, or after its UNSUBSCRIBE) is harmless and ignored, as brokers do;
    /// only an id never issued is an error.
    /// </summary>
    private bool WasIssued(string ackId)
    {
        var prefix = Id + "-";
        return ackId.StartsWith(prefix, StringComparison.Ordinal)
               && long.TryParse(ackId.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
               && sequence >= 1 && sequence <= Interlocked.Read(ref _messageSequence);
    }

    private void Begin(StompFrame frame)
    {
        var transaction = frame["transaction"];
        if (string.IsNullOrEmpty(transaction)) throw new StompProtocolException("BEGIN without a transaction header");
        if (_transactions.ContainsKey(transaction)) throw new StompProtocolException($"transaction '{transaction}' is already open");
        if (_transactions.Count >= _options.MaxOpenTransactions)
            throw new StompProtocolException($"too many open transactions: at most {_options.MaxOpenTransactions} per connection");
        _transactions.Add(transaction, []);
    }

    private string RequiredTransaction(StompFrame frame)
    {
        var transaction = frame["transaction"];
        if (string.IsNullOrEmpty(transaction)) throw new StompProtocolException($"{Name(frame.Command)} without a transaction header");
        if (!_transactions.ContainsKey(transaction)) throw new StompProtocolException($"no open transaction '{transaction}'");
        return transaction;
    }

    private void AddToTransaction(string transaction, StompFrame frame)
    {
        if (!_transactions.TryGetValue(transaction, out var frames)) throw new StompProtocolException($"no open transaction '{transaction}'");
        if (frames.Count >= _options.MaxTransactionFrames)
            throw new StompProtocolException($"transaction '{transaction}' holds more than {_options.MaxTransactionFrames} frames");
        if (_transactionBytes + frame.Body.Length > _options.MaxTransactionBytes)
            throw new StompProtocolException($"open transactions hold more than {_options.MaxTransactionBytes} bytes of message bodies on this connection");
        _transactionBytes += frame.Body.Length;
        frames.Add(frame);
    }

    private List<StompFrame> TakeTransaction(StompFrame frame)
    {
        _transactions.Remove(RequiredTransaction(frame), out var frames);
        _transactionBytes -= frames!.Sum(f => (long)f.Body.Length);
        return frames!;
    }

    /// <summary>Drops the transaction's frames; the receipts they asked for are answered (the frames were processed: discarded).</summary>
    private void Abort(StompFrame frame)
    {
        foreach (var held in TakeTransaction(frame))
        {
            if (held["receipt"] is { } receipt) Enqueue(Receipt(receipt));
        }
    }

    private async ValueTask CommitAsync(StompFrame frame, bool durable, CancellationToken cancellationToken)
    {
        var frames = TakeTransaction(frame);
        var sends = frames.Where(f => f.Command == StompCommand.Send).ToList();
        // Durable when the COMMIT or any of its SENDs asked for a receipt: those receipts follow the disk.
        durable |= frames.Any(f => f["receipt"] is not null);
        if (sends.Count > 0) await CallBackendAsync(sends, durable, cancellationToken).ConfigureAwait(false);
        foreach (var settle in frames.Where(f => f.Command is StompCommand.Ack or StompCommand.Nack))
            Acknowledge(Version == "1.2" ? settle["id"]! : settle["message-id"] ?? settle["id"]!);
        foreach (var held in frames)
        {
            if (held["receipt"] is { } receipt) Enqueue(Receipt(receipt));
        }
    }

    // ---------------------------------------------------------------- delivering

    internal bool Deliver(StompSubscription subscription, string destination, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body)
    {
        lock (_gate)
        {
            if (_closing || !subscription.IsActive) return false;
            if (Volatile.Read(ref _pendingMessages) < _options.MaxPendingMessages && Interlocked.Read(ref _pendingBytes) + body.Length <= _options.MaxPendingBytes)
            {
                var sequence = ++_messageSequence;
                var id = AckId(sequence);
                var clientAck = subscription.AckMode != StompAckMode.Auto;
                var all = new List<KeyValuePair<string, string>>(headers.Count + 4)
                {
                    new("destination", destination),
                    new("message-id", id),
                    new("subscription", subscription.Id),
                };
                if (clientAck)
                {
                    if (Version == "1.2") all.Add(new("ack", id));
                    _awaitingAck.Add(id, (subscription, sequence));
                    subscription.Unacknowledged.Add(sequence);
                }
                foreach (var header in headers)
                {
                    if (header.Key is not ("destination" or "message-id" or "subscription" or "ack" or "content-length")) all.Add(header);
                }
                Interlocked.Increment(ref _pendingMessages);
                Interlocked.Increment(ref _queuedFrames);
                Interlocked.Add(ref _pendingBytes, body.Length);
                _outbound.Writer.TryWrite(new Outbound(new StompFrame(StompCommand.Message, all, body), IsMessage: true, SettledWhenWritten: !clientAck));
                return true;
            }
        }
        var waiting = Volatile.Read(ref _pendingMessages);
        var bytes = Interlocked.Read(ref _pendingBytes);
        Close(StompCloseKind.SlowConsumer,
            $"slow consumer: {waiting} messages ({bytes} bytes) queued or unacknowledged (limit {_options.MaxPendingMessages} messages, {_options.MaxPendingBytes} bytes)",
            $"slow consumer: {waiting} messages ({bytes} bytes) were queued or awaiting acknowledgement (the limit is {_options.MaxPendingMessages} messages or {_options.MaxPendingBytes} bytes); read and acknowledge faster, or subscribe to less");
        return false;
    }

    private string AckId(long sequence) => string.Create(CultureInfo.InvariantCulture, $"{Id}-{sequence}");

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

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        if (SendHeartbeat == TimeSpan.Zero && ReceiveHeartbeat == TimeSpan.Zero) return;
        var send = SendHeartbeat.TotalMilliseconds;
        var receive = ReceiveHeartbeat.TotalMilliseconds;
        var tick = Math.Max(10, Math.Min(send == 0 ? double.MaxValue : send / 2, receive == 0 ? double.MaxValue : receive / 2));
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(tick));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false) && !IsClosing)
            {
                var now = Environment.TickCount64;
                var silent = now - Volatile.Read(ref _lastReadTicks);
                if (receive > 0 && Volatile.Read(ref _busySinceTicks) == 0 && silent > _options.HeartbeatTolerance * receive)
                {
                    Close(StompCloseKind.Timeout, $"heart-beat timeout: nothing from the client for {silent} ms",
                        $"heart-beat timeout: nothing received for {silent} ms (the negotiated interval is {receive} ms)");
                    await _stopReading.CancelAsync().ConfigureAwait(false);
                    return;
                }
                // A heart-beat only when nothing is queued: a stalled client must not collect them.
                if (send > 0 && now - Volatile.Read(ref _lastWriteTicks) >= send / 2 && Volatile.Read(ref _queuedFrames) == 0)
                {
                    Interlocked.Increment(ref _queuedFrames);
                    _outbound.Writer.TryWrite(new Outbound(null));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the session is ending
        }
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
