namespace Gateway.Stomp.Server;

// The client's frames, in the order the read loop hands them over. Each handler names the section of
// the STOMP 1.2 specification (https://stomp.github.io/stomp-specification-1.2.html) it implements.
public sealed partial class StompServerSession
{
    /// <summary>
    /// Handles one frame. A violation or a refusal ends the session with an ERROR naming the frame
    /// (STOMP 1.2, "ERROR"); before CONNECT it is left to the read loop, there being no frame to name.
    /// </summary>
    private async ValueTask HandleAsync(StompFrame frame, CancellationToken cancellationToken)
    {
        if (!_connected)
        {
            // STOMP 1.2, "Connecting": nothing but CONNECT (or STOMP) before CONNECTED.
            if (frame.Command is not (StompCommand.Connect or StompCommand.Stomp))
                throw new StompProtocolException($"the first frame must be CONNECT or STOMP, not {Name(frame.Command)}");
            await ConnectAsync(frame, cancellationToken).ConfigureAwait(false);
            return;
        }

        var receipt = frame["receipt"];
        try
        {
            await DispatchAsync(frame, receipt, cancellationToken).ConfigureAwait(false);
        }
        catch (StompProtocolException ex)
        {
            Close(StompCloseKind.ProtocolError, ex.Message, ex.Message, receipt, frame);
        }
        catch (StompRefusedException ex)
        {
            Close(StompCloseKind.Refused, ex.Message, ex.Message, receipt, frame);
        }
    }

    /// <summary>Runs the frame's handler, then answers its receipt (STOMP 1.2, "Header receipt").</summary>
    private async ValueTask DispatchAsync(StompFrame frame, string? receipt, CancellationToken cancellationToken)
    {
        var durable = receipt is not null;
        switch (frame.Command)
        {
            case StompCommand.Connect or StompCommand.Stomp:
                throw new StompProtocolException("already connected: a second CONNECT is not allowed");
            case StompCommand.Send:
                await SendAsync(frame, durable, cancellationToken).ConfigureAwait(false);
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
                await CommitAsync(frame, durable, cancellationToken).ConfigureAwait(false);
                break;
            case StompCommand.Abort:
                Abort(frame);
                break;
            case StompCommand.Disconnect:
                await DisconnectAsync(receipt, cancellationToken).ConfigureAwait(false);
                return;
            default:
                throw new StompProtocolException($"{Name(frame.Command)} is a server frame; a client must not send it");
        }
        // A SEND, ACK or NACK inside a transaction is answered at COMMIT (or ABORT), not before it is stored.
        if (receipt is not null && !(frame.Command is StompCommand.Send or StompCommand.Ack or StompCommand.Nack && frame["transaction"] is not null))
            Enqueue(Receipt(receipt));
    }

    /// <summary>STOMP 1.2, "CONNECT or STOMP Frame": version negotiation, the login, heart-beats, CONNECTED.</summary>
    private async ValueTask ConnectAsync(StompFrame frame, CancellationToken cancellationToken)
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

        try
        {
            User = await _backend.ConnectAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        catch (StompRefusedException ex)
        {
            Close(StompCloseKind.Refused, ex.Message, ex.Message);
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

    /// <summary>STOMP 1.2, "SEND": stored through the backend, or held by its transaction until COMMIT.</summary>
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

    /// <summary>Hands SENDs to the backend; with <paramref name="durable"/> it returns once they are on disk.</summary>
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

    /// <summary>STOMP 1.2, "DISCONNECT": the receipt, if asked for, is the last frame the client gets.</summary>
    private async ValueTask DisconnectAsync(string? receipt, CancellationToken cancellationToken)
    {
        // The goodbye receipt promises everything before it was processed: SENDs without a
        // receipt too, so wait until they are stored.
        if (receipt is not null)
        {
            await _backend.FlushAsync(cancellationToken).ConfigureAwait(false);
            Enqueue(Receipt(receipt));
        }
        Close(StompCloseKind.ClientClosed, "DISCONNECT", error: null);
    }
}
