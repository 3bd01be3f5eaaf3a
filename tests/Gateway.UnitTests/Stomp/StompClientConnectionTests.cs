using System.Buffers;
using System.Text;
using Gateway.Stomp;

namespace Gateway.UnitTests.Stomp;

/// <summary>The client connection against a scripted broker over in-memory streams.</summary>
public sealed class StompClientConnectionTests
{
    private static async Task<(StompClientConnection Client, ScriptedBroker Broker)> ConnectAsync(string brokerHeartbeat = "0,0", int ourHeartbeatMs = 0)
    {
        var (clientStream, brokerStream) = InMemoryDuplex.Create();
        var broker = new ScriptedBroker(brokerStream);
        var connecting = StompClientConnection.ConnectAsync(clientStream,
            new StompConnectOptions { Host = "vhost", Login = "edge", Passcode = "secret", Heartbeat = TimeSpan.FromMilliseconds(ourHeartbeatMs) }, CancellationToken.None);
        var connect = await broker.ReadFrameAsync();
        Assert.Equal(StompCommand.Connect, connect.Command);
        Assert.Equal("1.2", connect["accept-version"]);
        Assert.Equal("vhost", connect["host"]);
        Assert.Equal("edge", connect["login"]);
        Assert.Equal("secret", connect["passcode"]);
        await broker.SendAsync(StompFrame.Create(StompCommand.Connected, ("version", "1.2"), ("heart-beat", brokerHeartbeat)));
        return (await connecting.WaitAsync(Patience.Reaction), broker);
    }

    [Fact]
    public async Task A_receipt_completes_the_wait_for_it()
    {
        var (client, broker) = await ConnectAsync();
        await using var _ = client;
        var waiting = client.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Commit, ("transaction", "t1"), ("receipt", "t1"))], "t1", CancellationToken.None);

        var commit = await broker.ReadFrameAsync();
        Assert.Equal("t1", commit["receipt"]);
        Assert.False(waiting.IsCompleted);
        await broker.SendAsync(StompFrame.Create(StompCommand.Receipt, ("receipt-id", "t1")));
        Assert.Equal("t1", (await waiting.WaitAsync(Patience.Reaction))["receipt-id"]);
    }

    [Fact]
    public async Task An_error_frame_fails_the_waiting_receipt_with_the_brokers_message()
    {
        var (client, broker) = await ConnectAsync();
        await using var _ = client;
        var waiting = client.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Commit, ("transaction", "t1"), ("receipt", "t1"))], "t1", CancellationToken.None);
        await broker.ReadFrameAsync();

        await broker.SendAsync(StompFrame.Create(StompCommand.Error, Encoding.UTF8.GetBytes("caused by OutOfMemoryError"), ("message", "STORE COMMIT FAILED: Transaction rolled back")));

        var error = await Assert.ThrowsAsync<StompErrorException>(() => waiting.WaitAsync(Patience.Reaction));
        Assert.Contains("STORE COMMIT FAILED: Transaction rolled back", error.Message);
        Assert.Contains("OutOfMemoryError", error.Message);
        await Assert.ThrowsAnyAsync<Exception>(() => client.WriteAsync([StompFrame.Create(StompCommand.Begin, ("transaction", "t2"))], CancellationToken.None));
    }

    [Fact]
    public async Task A_broker_that_falls_silent_past_twice_the_heartbeat_faults_the_connection()
    {
        var (client, _) = await ConnectAsync(brokerHeartbeat: "200,0", ourHeartbeatMs: 200);
        await using var _c = client;
        Assert.Equal(TimeSpan.FromMilliseconds(200), client.ReceiveHeartbeat);
        var waiting = client.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Commit, ("transaction", "t"), ("receipt", "t"))], "t", CancellationToken.None);

        var failure = await Assert.ThrowsAsync<TimeoutException>(() => waiting.WaitAsync(Patience.Reaction));
        Assert.Contains("missed heart-beats", failure.Message);
    }

    [Fact]
    public async Task A_frozen_broker_is_seen_through_its_silence_even_while_a_write_to_it_is_stuck()
    {
        // The broker stops reading (as a SIGSTOPped one does): the write fills the pipe and blocks,
        // holding the write lock a heart-beat would need; the silence must still be noticed.
        var (client, _) = await ConnectAsync(brokerHeartbeat: "200,200", ourHeartbeatMs: 200);
        await using var _c = client;
        var body = new byte[1 << 20];
        var stuck = client.WriteAsync([new StompFrame(StompCommand.Send, [new("destination", "/queue/q")], body)], CancellationToken.None);

        await Task.Delay(Timeout.Infinite, client.Broken).ContinueWith(_ => { }, CancellationToken.None).WaitAsync(Patience.Reaction);

        Assert.Contains("missed heart-beats", client.Failure?.Message);
        Assert.False(stuck.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task An_idle_client_sends_heartbeats_at_the_negotiated_interval()
    {
        var (client, broker) = await ConnectAsync(brokerHeartbeat: "0,200", ourHeartbeatMs: 100);
        await using var _ = client;
        Assert.Equal(TimeSpan.FromMilliseconds(200), client.SendHeartbeat);

        var started = DateTime.UtcNow;
        await broker.WaitForHeartbeatsAsync(5);
        var elapsed = DateTime.UtcNow - started;
        // Five EOLs, at most one per 100 ms (half the interval, so the broker never sees a gap over 200 ms).
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(380), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_broker_that_closes_the_connection_fails_what_waits()
    {
        var (clientStream, brokerStream) = InMemoryDuplex.Create();
        var connecting = StompClientConnection.ConnectAsync(clientStream, new StompConnectOptions { Host = "h" }, CancellationToken.None);
        await new ScriptedBroker(brokerStream).ReadFrameAsync();
        brokerStream.Dispose();
        var failure = await Assert.ThrowsAsync<IOException>(() => connecting.WaitAsync(Patience.Reaction));
        Assert.Contains("closed the connection", failure.Message);
    }
}
