using System.Text;
using Gateway.Stomp;
using Gateway.Stomp.Server;

namespace Gateway.UnitTests.Stomp;

/// <summary>The server session over in-memory pipes: every frame, ack mode, receipt, transaction, heart-beat and error.</summary>
public sealed class StompServerSessionTests
{
    private static readonly KeyValuePair<string, string>[] NoHeaders = [];

    private static ReadOnlyMemory<byte> Text(string s) => Encoding.UTF8.GetBytes(s);

    // ------------------------------------------------------------ CONNECT

    [Theory]
    [InlineData("1.0,1.1,1.2", "1.2")]
    [InlineData("1.1", "1.1")]
    [InlineData("1.0,1.1", "1.1")]
    [InlineData("1.2,2.0", "1.2")]
    public async Task Connect_chooses_the_highest_common_version(string accepted, string expected)
    {
        await using var s = new SessionUnderTest();
        await s.SendAsync(StompCommand.Connect, ("accept-version", accepted), ("host", "gw"), ("heart-beat", "0,0"));
        var connected = await s.ReadAsync();
        Assert.Equal(StompCommand.Connected, connected.Command);
        Assert.Equal(expected, connected["version"]);
        Assert.Equal("s1", connected["session"]);
        Assert.Equal("edge-gateway", connected["server"]);
        Assert.Equal(expected, s.Session.Version);
    }

    [Fact]
    public async Task Connect_without_accept_version_is_stomp_1_0_and_the_STOMP_command_works_too()
    {
        await using var s = new SessionUnderTest();
        await s.SendAsync(StompCommand.Stomp);
        Assert.Equal("1.0", (await s.ReadAsync())["version"]);
    }

    [Fact]
    public async Task Connect_with_no_common_version_gets_an_ERROR_listing_ours_and_is_closed()
    {
        var s = new SessionUnderTest();
        await s.SendAsync(StompCommand.Connect, ("accept-version", "2.0,3.1"));
        var error = await s.ExpectErrorAndCloseAsync("no common protocol version");
        Assert.Equal("1.0,1.1,1.2", error["version"]);
        Assert.Equal(StompCloseKind.ProtocolError, s.Session.CloseKind);
    }

    [Fact]
    public async Task A_frame_before_CONNECT_is_an_error()
    {
        var s = new SessionUnderTest();
        await s.SendAsync(StompCommand.Send, ("destination", "/topic/a"));
        await s.ExpectErrorAndCloseAsync("the first frame must be CONNECT or STOMP, not SEND");
        Assert.Empty(s.Backend.Sends);
    }

    [Fact]
    public async Task A_second_CONNECT_is_an_error()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"));
        await s.ExpectErrorAndCloseAsync("already connected");
    }

    [Fact]
    public async Task No_CONNECT_in_time_is_a_timeout_with_an_ERROR()
    {
        var s = new SessionUnderTest(new StompServerOptions { ConnectTimeout = TimeSpan.FromMilliseconds(200) });
        await s.ExpectErrorAndCloseAsync("expected a CONNECT frame within 0.2 s");
        Assert.Equal(StompCloseKind.Timeout, s.Session.CloseKind);
    }

    [Theory]
    [InlineData("HELLO\n\n\0", "unknown command 'HELLO'")]
    [InlineData("SEND\ndestination\n\n\0", "header line without a name and ':'")]
    [InlineData("SEND\ndestination:/topic/a\ncontent-length:99999999\n\n\0", "over the limit")]
    [InlineData("SEND\ndestination:/topic/a\nx:bad\\t\n\n\0", "undefined escape")]
    [InlineData("MESSAGE\ndestination:/topic/a\n\n\0", "MESSAGE is a server frame")]
    [InlineData("SEND\n\n\0", "SEND without a destination header")]
    public async Task Malformed_or_forbidden_frames_get_an_ERROR_naming_the_fault(string raw, string expected)
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendRawAsync(raw);
        await s.ExpectErrorAndCloseAsync(expected);
        Assert.Equal(StompCloseKind.ProtocolError, s.Session.CloseKind);
        Assert.Empty(s.Backend.Sends);
    }

    // ------------------------------------------------------------ SEND and receipts

    [Fact]
    public async Task SEND_with_a_receipt_is_answered_only_after_the_backend_stored_it()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        var disk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var storing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        s.Backend.OnSend = (_, _) => { storing.TrySetResult(); return disk.Task; };
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("21.5"), ("destination", "/topic/a.b"), ("receipt", "r1")));

        var receipt = s.TryReadAsync();
        await storing.Task.WaitAsync(Patience.Reaction); // the session has the SEND and waits for the store
        Assert.True(await Poll.StaysPendingAsync(receipt), "a RECEIPT came before the store said the message is stored");

        disk.SetResult();
        var frame = await receipt;
        Assert.Equal(StompCommand.Receipt, frame!.Command);
        Assert.Equal("r1", frame["receipt-id"]);
        var (sends, durable) = Assert.Single(s.Backend.Sends);
        Assert.True(durable);
        Assert.Equal("21.5", Encoding.UTF8.GetString(Assert.Single(sends).Body.Span));
    }

    [Fact]
    public async Task SEND_without_a_receipt_is_stored_without_waiting_and_gets_no_answer()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("x"), ("destination", "/topic/a")));
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/b"), ("id", "0"), ("receipt", "after"));
        Assert.Equal("after", (await s.ReadAsync())["receipt-id"]); // nothing came before this receipt
        var (_, durable) = Assert.Single(s.Backend.Sends);
        Assert.False(durable);
    }

    [Fact]
    public async Task A_refused_SEND_gets_an_ERROR_with_the_reason_and_its_receipt_id_and_no_RECEIPT()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        s.Backend.OnSend = (_, _) => throw new StompRefusedException("the store is full (quota exceeded)");
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("x"), ("destination", "/topic/a"), ("receipt", "r9")));
        var error = await s.ExpectErrorAndCloseAsync("the store is full");
        Assert.Equal("r9", error["receipt-id"]);
        Assert.Equal(StompCloseKind.Refused, s.Session.CloseKind);
    }

    [Fact]
    public async Task Every_frame_may_ask_for_a_receipt()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "0"), ("receipt", "1"));
        await s.SendAsync(StompCommand.Begin, ("transaction", "t"), ("receipt", "2"));
        await s.SendAsync(StompCommand.Abort, ("transaction", "t"), ("receipt", "3"));
        await s.SendAsync(StompCommand.Unsubscribe, ("id", "0"), ("receipt", "4"));
        for (var i = 1; i <= 4; i++) Assert.Equal(i.ToString(), (await s.ReadAsync())["receipt-id"]);
    }

    // ------------------------------------------------------------ SUBSCRIBE and delivery

    [Fact]
    public async Task A_subscription_receives_MESSAGE_frames_with_destination_subscription_and_message_id()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/sensors.#"), ("id", "sub-7"), ("receipt", "ok"));
        await s.ReadAsync();
        var subscription = s.Backend.Subscriptions["sub-7"];
        Assert.Equal(StompAckMode.Auto, subscription.AckMode);
        Assert.Equal("/topic/sensors.#", subscription.Destination);

        Assert.True(subscription.Deliver("/topic/sensors.a", [new("content-type", "application/json"), new("unit", "C")], Text("{\"t\":1}")));
        var message = await s.ReadAsync();
        Assert.Equal(StompCommand.Message, message.Command);
        Assert.Equal("/topic/sensors.a", message["destination"]);
        Assert.Equal("sub-7", message["subscription"]);
        Assert.Equal("s1-1", message["message-id"]);
        Assert.Null(message["ack"]); // auto: nothing to acknowledge
        Assert.Equal("application/json", message["content-type"]);
        Assert.Equal("C", message["unit"]);
        Assert.Equal("{\"t\":1}", Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal(1, s.Session.MessagesDelivered);
    }

    [Theory]
    [InlineData("SUBSCRIBE\ndestination:/topic/a\n\n\0", "SUBSCRIBE without an id header")]
    [InlineData("SUBSCRIBE\nid:1\n\n\0", "SUBSCRIBE without a destination header")]
    [InlineData("SUBSCRIBE\nid:1\ndestination:/topic/a\nack:sometimes\n\n\0", "ack mode 'sometimes'")]
    [InlineData("SUBSCRIBE\nid:1\ndestination:/topic/a\n\n\0SUBSCRIBE\nid:1\ndestination:/topic/b\n\n\0", "subscription id '1' is already in use")]
    [InlineData("UNSUBSCRIBE\nid:nope\n\n\0", "no subscription with id 'nope'")]
    [InlineData("UNSUBSCRIBE\n\n\0", "UNSUBSCRIBE without an id header")]
    public async Task Bad_SUBSCRIBE_and_UNSUBSCRIBE_frames_are_errors(string raw, string expected)
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendRawAsync(raw);
        await s.ExpectErrorAndCloseAsync(expected);
    }

    [Fact]
    public async Task A_destination_the_backend_does_not_serve_is_refused_with_its_reason()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/refused/x"), ("id", "1"));
        await s.ExpectErrorAndCloseAsync("'/refused/x' is not served here");
        Assert.Equal(StompCloseKind.Refused, s.Session.CloseKind);
    }

    [Fact]
    public async Task Too_many_subscriptions_is_an_error()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: new StompServerOptions { MaxSubscriptionsPerConnection = 2, HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero });
        for (var i = 0; i < 3; i++) await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", i.ToString()));
        await s.ExpectErrorAndCloseAsync("too many subscriptions: at most 2");
        Assert.Equal(2, s.Backend.Released); // the two it had are released at close
    }

    [Fact]
    public async Task UNSUBSCRIBE_stops_delivery_and_releases_the_registration()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"));
        await s.SendAsync(StompCommand.Unsubscribe, ("id", "1"), ("receipt", "gone"));
        Assert.Equal("gone", (await s.ReadAsync())["receipt-id"]);
        Assert.Equal(1, s.Backend.Released);
        Assert.Empty(s.Backend.Subscriptions);
        Assert.Equal(0, s.Session.SubscriptionCount);
    }

    [Fact]
    public async Task STOMP_1_0_subscriptions_may_omit_the_id_and_unsubscribe_by_destination()
    {
        await using var s = await SessionUnderTest.ConnectedAsync("1.0");
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("receipt", "1"));
        await s.ReadAsync();
        Assert.True(s.Backend.Subscriptions.ContainsKey("/topic/a"));
        await s.SendAsync(StompCommand.Unsubscribe, ("destination", "/topic/a"), ("receipt", "2"));
        Assert.Equal("2", (await s.ReadAsync())["receipt-id"]);
        Assert.Empty(s.Backend.Subscriptions);
    }

    // ------------------------------------------------------------ ack modes

    private static StompServerOptions Limit(int pending) => new() { MaxPendingMessages = pending, HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero };

    private static async Task<StompSubscription> SubscribeAsync(SessionUnderTest s, string ack)
    {
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"), ("ack", ack), ("receipt", "sub"));
        Assert.Equal("sub", (await s.ReadAsync())["receipt-id"]);
        return s.Backend.Subscriptions["1"];
    }

    [Fact]
    public async Task Client_ack_is_cumulative_and_unacknowledged_messages_count_against_the_limit()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: Limit(3));
        var subscription = await SubscribeAsync(s, "client");
        var acks = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text($"m{i}")));
            var message = await s.ReadAsync();
            Assert.Equal(message["message-id"], message["ack"]);
            acks.Add(message["ack"]!);
        }

        // ACK of the second settles the first two: room for exactly two more.
        await s.SendAsync(StompCommand.Ack, ("id", acks[1]), ("receipt", "a"));
        Assert.Equal("a", (await s.ReadAsync())["receipt-id"]);
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text("m3")));
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text("m4")));
        Assert.False(subscription.Deliver("/topic/a", NoHeaders, Text("m5")));

        var error = await s.ReadUntilClosedAsync();
        Assert.Contains("slow consumer", error!["message"]);
        Assert.Equal(StompCloseKind.SlowConsumer, s.Session.CloseKind);
    }

    [Fact]
    public async Task Client_individual_ack_settles_only_the_message_it_names()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: Limit(3));
        var subscription = await SubscribeAsync(s, "client-individual");
        var acks = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            subscription.Deliver("/topic/a", NoHeaders, Text($"m{i}"));
            acks.Add((await s.ReadAsync())["ack"]!);
        }
        await s.SendAsync(StompCommand.Ack, ("id", acks[1]), ("receipt", "a"));
        await s.ReadAsync();
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text("m3")));
        Assert.False(subscription.Deliver("/topic/a", NoHeaders, Text("m4"))); // m0 and m2 still count

        // Acknowledging a settled message again is harmless (an async client may do it); an id never sent is not.
        var t = await SessionUnderTest.ConnectedAsync(options: Limit(3));
        var other = await SubscribeAsync(t, "client-individual");
        other.Deliver("/topic/a", NoHeaders, Text("x"));
        var id = (await t.ReadAsync())["ack"]!;
        await t.SendAsync(StompCommand.Ack, ("id", id));
        await t.SendAsync(StompCommand.Ack, ("id", id), ("receipt", "twice"));
        Assert.Equal("twice", (await t.ReadAsync())["receipt-id"]);
        await t.SendAsync(StompCommand.Ack, ("id", "s1-77"));
        await t.ExpectErrorAndCloseAsync("ACK for 's1-77', which is no message sent on this connection");
        await s.DisposeAsync();
    }

    [Fact]
    public async Task NACK_settles_a_message_too_and_an_unknown_id_is_an_error()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: Limit(1));
        var subscription = await SubscribeAsync(s, "client-individual");
        subscription.Deliver("/topic/a", NoHeaders, Text("x"));
        await s.SendAsync(StompCommand.Nack, ("id", (await s.ReadAsync())["ack"]!), ("receipt", "n"));
        Assert.Equal("n", (await s.ReadAsync())["receipt-id"]);
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text("y")));
        await s.ReadAsync();

        await s.SendAsync(StompCommand.Nack, ("id", "s1-999"));
        await s.ExpectErrorAndCloseAsync("NACK for 's1-999'");
    }

    [Fact]
    public async Task STOMP_1_1_acknowledges_by_message_id()
    {
        await using var s = await SessionUnderTest.ConnectedAsync("1.1", Limit(1));
        var subscription = await SubscribeAsync(s, "client");
        subscription.Deliver("/topic/a", NoHeaders, Text("x"));
        var message = await s.ReadAsync();
        Assert.Null(message["ack"]); // the ack header is 1.2's
        await s.SendAsync(StompCommand.Ack, ("message-id", message["message-id"]!), ("subscription", "1"), ("receipt", "a"));
        Assert.Equal("a", (await s.ReadAsync())["receipt-id"]);
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, Text("y")));
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_disconnected_as_a_slow_consumer_and_deliveries_never_wait()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: Limit(10));
        var subscription = await SubscribeAsync(s, "auto");
        var body = new byte[16 * 1024];
        var delivered = 0;
        var started = Environment.TickCount64;
        while (subscription.Deliver("/topic/a", NoHeaders, body))
        {
            delivered++;
            Assert.True(delivered < 1000, "a client that reads nothing was never cut off");
            // Let the write loop fill the pipe (64 KiB) and stall on it, as a socket would.
            if (delivered % 5 == 0) await Task.Yield();
        }
        Assert.True(Environment.TickCount64 - started < 5000, "delivering to a stalled client took seconds: it waited on the client");
        Assert.Equal(StompCloseKind.SlowConsumer, s.Session.CloseKind);
        Assert.Contains("limit 10", s.Session.CloseReason);
        await s.Running.WaitAsync(Patience.Reaction); // cut off after the close grace, not hung on the stalled pipe
        Assert.Equal(1, s.Backend.Released);
    }

    // ------------------------------------------------------------ transactions

    [Fact]
    public async Task A_transaction_sends_nothing_until_COMMIT_then_everything_in_one_durable_call()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Begin, ("transaction", "tx1"));
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("a"), ("destination", "/topic/a"), ("transaction", "tx1")));
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("b"), ("destination", "/topic/a"), ("transaction", "tx1")));
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/x"), ("id", "0"), ("receipt", "mid"));
        Assert.Equal("mid", (await s.ReadAsync())["receipt-id"]);
        Assert.Empty(s.Backend.Sends);

        await s.SendAsync(StompCommand.Commit, ("transaction", "tx1"), ("receipt", "done"));
        Assert.Equal("done", (await s.ReadAsync())["receipt-id"]);
        var (sends, durable) = Assert.Single(s.Backend.Sends);
        Assert.True(durable);
        Assert.Equal(["a", "b"], sends.Select(f => Encoding.UTF8.GetString(f.Body.Span)));
    }

    [Fact]
    public async Task ABORT_discards_the_transaction_and_ACKs_in_a_transaction_apply_at_COMMIT()
    {
        await using var s = await SessionUnderTest.ConnectedAsync(options: Limit(1));
        var subscription = await SubscribeAsync(s, "client-individual");
        await s.SendAsync(StompCommand.Begin, ("transaction", "t1"));
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("never"), ("destination", "/topic/a"), ("transaction", "t1")));
        await s.SendAsync(StompCommand.Abort, ("transaction", "t1"), ("receipt", "aborted"));
        Assert.Equal("aborted", (await s.ReadAsync())["receipt-id"]);
        Assert.Empty(s.Backend.Sends);

        subscription.Deliver("/topic/a", NoHeaders, Text("x"));
        var id = (await s.ReadAsync())["ack"]!;
        await s.SendAsync(StompCommand.Begin, ("transaction", "t2"));
        await s.SendAsync(StompCommand.Ack, ("id", id), ("transaction", "t2"), ("receipt", "acked-in-tx"));
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/b"), ("id", "probe"), ("receipt", "probe"));
        Assert.Equal("probe", (await s.ReadAsync())["receipt-id"]); // the ACK's receipt waits for the COMMIT
        Assert.False(subscription.Deliver("/topic/a", NoHeaders, Text("y")), "an ACK inside an open transaction was applied before COMMIT");
    }

    [Theory]
    [InlineData("BEGIN\n\n\0", "BEGIN without a transaction header")]
    [InlineData("BEGIN\ntransaction:t\n\n\0BEGIN\ntransaction:t\n\n\0", "transaction 't' is already open")]
    [InlineData("COMMIT\ntransaction:t\n\n\0", "no open transaction 't'")]
    [InlineData("ABORT\ntransaction:t\n\n\0", "no open transaction 't'")]
    [InlineData("SEND\ndestination:/topic/a\ntransaction:t\n\n\0", "no open transaction 't'")]
    public async Task Transaction_errors_are_reported(string raw, string expected)
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendRawAsync(raw);
        await s.ExpectErrorAndCloseAsync(expected);
        Assert.Empty(s.Backend.Sends);
    }

    [Fact]
    public async Task Receipts_of_SENDs_in_a_transaction_wait_for_the_COMMIT_and_the_disk()
    {
        await using var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Begin, ("transaction", "t"));
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("a"), ("destination", "/topic/a"), ("transaction", "t"), ("receipt", "send-a")));
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/x"), ("id", "0"), ("receipt", "probe"));
        Assert.Equal("probe", (await s.ReadAsync())["receipt-id"]); // send-a was not answered: nothing is stored yet

        await s.SendAsync(StompCommand.Commit, ("transaction", "t")); // no receipt of its own
        Assert.Equal("send-a", (await s.ReadAsync())["receipt-id"]);
        var (_, durable) = Assert.Single(s.Backend.Sends);
        Assert.True(durable); // the SEND's receipt made the commit wait for the disk
    }

    [Fact]
    public async Task Open_transactions_are_bounded_in_bytes()
    {
        var options = new StompServerOptions { MaxTransactionBytes = 100_000, HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero };
        var s = await SessionUnderTest.ConnectedAsync(options: options);
        await s.SendAsync(StompCommand.Begin, ("transaction", "t"));
        for (var i = 0; i < 3; i++)
            await s.SendAsync(StompFrame.Create(StompCommand.Send, new byte[40_000], ("destination", "/topic/a"), ("transaction", "t")));
        await s.ExpectErrorAndCloseAsync("open transactions hold more than 100000 bytes");
        Assert.Empty(s.Backend.Sends);
    }

    [Fact]
    public async Task Pending_MESSAGE_bytes_are_bounded_as_well_as_their_number()
    {
        var options = new StompServerOptions { MaxPendingMessages = 1000, MaxPendingBytes = 100_000, HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero };
        var s = await SessionUnderTest.ConnectedAsync(options: options);
        var subscription = await SubscribeAsync(s, "client");
        // The bytes count while a MESSAGE waits to be written (what the gateway holds for a slow
        // client). First the connection is stalled: this test reads nothing, so a 70,000-byte MESSAGE
        // fills the transport past its pause threshold and the writer waits there.
        var sends = s.Transport.Sends;
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, new byte[70_000]));
        await Poll.UntilAsync(() => Volatile.Read(ref s.Transport.Sends) > sends); // the writer took it
        Assert.True(subscription.Deliver("/topic/a", NoHeaders, new byte[60_000]));
        Assert.False(subscription.Deliver("/topic/a", NoHeaders, new byte[60_000])); // 120,000 bytes queued
        Assert.Equal(StompCloseKind.SlowConsumer, s.Session.CloseKind);
        Assert.Contains("bytes", s.Session.CloseReason);
    }

    [Fact]
    public async Task A_client_that_never_reads_its_receipts_is_cut_off()
    {
        var s = await SessionUnderTest.ConnectedAsync(options: Limit(10));
        var started = Environment.TickCount64;
        for (var i = 0; i < 5000 && s.Session.CloseKind is null; i++)
        {
            await s.SendAsync(StompCommand.Begin, ("transaction", $"t{i}"), ("receipt", new string('r', 200) + i));
            await s.SendAsync(StompCommand.Abort, ("transaction", $"t{i}"), ("receipt", new string('a', 200) + i));
        }
        Assert.Equal(StompCloseKind.SlowConsumer, s.Session.CloseKind);
        Assert.True(Environment.TickCount64 - started < 10_000);
    }

    // ------------------------------------------------------------ DISCONNECT

    [Fact]
    public async Task DISCONNECT_s_receipt_waits_until_earlier_SENDs_without_receipts_are_stored()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        var disk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        s.Backend.Flushed = disk.Task;
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("fire and forget"), ("destination", "/topic/a")));
        await s.SendAsync(StompCommand.Disconnect, ("receipt", "bye"));
        var receipt = s.TryReadAsync();
        await Poll.UntilAsync(() => Volatile.Read(ref s.Backend.Flushes) == 1); // the session has the DISCONNECT and waits for the store
        Assert.True(await Poll.StaysPendingAsync(receipt), "DISCONNECT was answered before the earlier SEND was stored");
        disk.SetResult();
        Assert.Equal("bye", (await receipt)!["receipt-id"]);
        Assert.Equal(1, s.Backend.Flushes);
    }

    [Fact]
    public async Task DISCONNECT_with_a_receipt_is_answered_then_the_connection_closes_and_subscriptions_are_released()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"));
        await s.SendAsync(StompCommand.Disconnect, ("receipt", "bye"));
        Assert.Equal("bye", (await s.ReadAsync())["receipt-id"]);
        Assert.Null(await s.ReadUntilClosedAsync());
        Assert.Equal(StompCloseKind.ClientClosed, s.Session.CloseKind);
        Assert.Equal(1, s.Backend.Released);
    }

    [Fact]
    public async Task A_client_that_just_goes_away_ends_the_session_cleanly()
    {
        var s = await SessionUnderTest.ConnectedAsync();
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"));
        await s.SendRawAsync("SEND\ndestination:/topic/a\n"); // half a frame, then gone
        s.Transport.FromClient.Complete();
        await s.Running.WaitAsync(Patience.Reaction);
        Assert.Equal(StompCloseKind.ClientClosed, s.Session.CloseKind);
        Assert.Contains("in the middle of a frame", s.Session.CloseReason);
        Assert.Empty(s.Backend.Sends);
        Assert.Equal(1, s.Backend.Released);
    }

    // ------------------------------------------------------------ heart-beats

    private static StompServerOptions Heartbeats(int ms) => new() { HeartbeatSend = TimeSpan.FromMilliseconds(ms), HeartbeatReceive = TimeSpan.FromMilliseconds(ms) };

    [Fact]
    public async Task Heart_beats_are_negotiated_and_sent_while_the_connection_is_quiet()
    {
        await using var s = new SessionUnderTest(Heartbeats(100));
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"), ("heart-beat", "0,150"));
        var connected = await s.ReadAsync();
        Assert.Equal("100,100", connected["heart-beat"]);
        Assert.Equal(TimeSpan.FromMilliseconds(150), s.Session.SendHeartbeat);
        Assert.Equal(TimeSpan.Zero, s.Session.ReceiveHeartbeat); // the client sends none: none expected

        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"), ("receipt", "r"));
        Assert.Equal("r", (await s.ReadAsync())["receipt-id"]);
        await s.WaitForHeartbeatsAsync(3); // nothing but EOLs while the connection is quiet
    }

    [Fact]
    public async Task A_client_silent_past_its_heart_beat_interval_gets_an_ERROR_and_is_closed()
    {
        var s = new SessionUnderTest(Heartbeats(100));
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"), ("heart-beat", "100,0"));
        Assert.Equal(StompCommand.Connected, (await s.ReadAsync()).Command);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.Session.ReceiveHeartbeat);
        await s.ExpectErrorAndCloseAsync("heart-beat timeout");
        Assert.Equal(StompCloseKind.Timeout, s.Session.CloseKind);
    }

    [Fact]
    public async Task A_client_that_sends_heart_beats_stays_connected()
    {
        // Silence is tolerated for twice the 1 s interval; the client beats every 50 ms for twice that
        // window (the interval is wide because the suite's other tests can hold the thread pool for a
        // while: at 500 ms it failed once in a run with two other processes keeping both cores busy).
        await using var s = new SessionUnderTest(Heartbeats(1000));
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"), ("heart-beat", "1000,0"));
        await s.ReadAsync();
        for (var i = 0; i < 80; i++)
        {
            await s.SendRawAsync("\n");
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
        Assert.True(s.Session.CloseKind is null, s.Session.CloseReason);
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"), ("receipt", "alive"));
        Assert.Equal("alive", (await s.ReadAsync())["receipt-id"]);
    }

    [Fact]
    public async Task Waiting_for_the_disk_is_not_counted_as_client_silence()
    {
        await using var s = new SessionUnderTest(Heartbeats(100));
        s.Backend.OnSend = async (_, _) => await Task.Delay(TimeSpan.FromMilliseconds(600));
        // The SEND goes right behind the CONNECT: a wait between them (a cold JIT, a busy machine) would
        // be real silence from a client that promised a heart-beat every 100 ms.
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"), ("heart-beat", "100,0"));
        await s.SendAsync(StompFrame.Create(StompCommand.Send, Text("x"), ("destination", "/topic/a"), ("receipt", "slow-disk")));
        Assert.Equal(StompCommand.Connected, (await s.ReadAsync()).Command);
        Assert.Equal("slow-disk", (await s.ReadAsync())["receipt-id"]);
        Assert.Null(s.Session.CloseKind);
    }

    // ------------------------------------------------------------ transports

    [Fact]
    public async Task A_message_transport_gets_one_frame_per_send()
    {
        var options = new StompServerOptions { HeartbeatSend = TimeSpan.Zero, HeartbeatReceive = TimeSpan.Zero };
        await using var s = new SessionUnderTest(options, oneFramePerSend: true);
        await s.SendAsync(StompCommand.Connect, ("accept-version", "1.2"));
        await s.SendAsync(StompCommand.Subscribe, ("destination", "/topic/a"), ("id", "1"), ("receipt", "r"));
        await s.ReadAsync();
        await s.ReadAsync();
        var subscription = s.Backend.Subscriptions["1"];
        for (var i = 0; i < 50; i++) subscription.Deliver("/topic/a", NoHeaders, Text(i.ToString()));
        for (var i = 0; i < 50; i++) Assert.Equal(i.ToString(), Encoding.UTF8.GetString((await s.ReadAsync()).Body.Span));
        Assert.Equal(52, s.Transport.Sends);
    }
}
