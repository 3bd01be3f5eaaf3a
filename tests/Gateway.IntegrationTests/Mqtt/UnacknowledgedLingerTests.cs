using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Gateway.Stomp;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// With a long <c>Gateway:Outbox:UnacknowledgedLinger</c>, through the real gateway process: what
/// nobody acknowledges (MQTT QoS 0, STOMP SEND without receipt) waits to share a commit, and a publish
/// somebody waits for (QoS 1, SEND with receipt) is neither held by it nor parted from those before it.
/// </summary>
public sealed class UnacknowledgedLingerTests : IAsyncLifetime
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(6);
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        // An upstream that is never there keeps everything routed in the store; "elsewhere/#" is
        // unrouted, so local subscribers only (Gateway:Unrouted is Local).
        _gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", "amqp://guest:guest@127.0.0.1:1/")
            .Route("warm/#", "cloud").Route("sensors/#", "cloud").Route("orders/#", "cloud").Route("panel/#", "cloud")
            .Set("Gateway__Outbox__UnacknowledgedLinger", Linger.ToString())
            .Build());
        await _gateway.StartAsync();
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<double> StoredAsync() => _gateway.MetricAsync("outbox_messages");

    private Task<double> GroupCommitsAsync() => _gateway.MetricAsync("outbox_group_commits_total");

    [Fact]
    public async Task QoS0_publishes_wait_to_share_a_commit_and_a_QoS1_publish_is_acked_at_once_in_the_same_commit()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "device");
        Assert.True((await device.PublishAsync("warm/up", "w")).IsSuccess); // the first commit into new files, out of the count
        var before = await GroupCommitsAsync();

        // From the same client, so the gateway takes them in this order (one packet at a time).
        for (var i = 0; i < 8; i++)
        {
            await device.PublishAsync("sensors/t", $"reading {i}", MqttQualityOfServiceLevel.AtMostOnce);
            await Task.Delay(25); // pacing, not waiting: the publishes arrive spread over the linger, as a sensor's do
        }
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_publishes_received_total") >= 9, Patience.Reaction, "the QoS 0 publishes to reach the gateway");
        Assert.Equal(1, await StoredAsync()); // still lingering: only the warm-up is stored

        var clock = Stopwatch.StartNew();
        Assert.True((await device.PublishAsync("orders/1", "acked")).IsSuccess);
        clock.Stop();

        Assert.True(clock.Elapsed < Linger / 2, $"the QoS 1 ack took {clock.Elapsed}: it waited for the linger");
        Assert.Equal(10, await StoredAsync()); // the QoS 0 publishes went with it
        Assert.Equal(1, await GroupCommitsAsync() - before);
    }

    [Fact]
    public async Task QoS0_publishes_alone_are_stored_once_the_linger_is_over()
    {
        await using var sensor = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "sensor");
        for (var i = 0; i < 5; i++)
        {
            await sensor.PublishAsync("sensors/t", $"reading {i}", MqttQualityOfServiceLevel.AtMostOnce);
            await Task.Delay(25); // pacing, not waiting: the publishes arrive spread over the linger, as a sensor's do
        }

        await Poll.UntilAsync(async () => await StoredAsync() == 5, Patience.Reaction, "the QoS 0 publishes to be stored");
        Assert.Equal(1, await GroupCommitsAsync());
    }

    [Fact]
    public async Task A_STOMP_SEND_with_a_receipt_is_not_held_by_SENDs_without_one_before_it()
    {
        await using var stomp = await ConnectStompAsync();
        await stomp.WriteAndAwaitReceiptAsync([Send("w", ("receipt", "warm"))], "warm", CancellationToken.None).WaitAsync(Patience.Reaction);
        var before = await GroupCommitsAsync();

        await stomp.WriteAsync([Send("a"), Send("b"), Send("c")], CancellationToken.None);
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("stomp_sends_received_total") >= 4, Patience.Reaction, "the SENDs to reach the gateway");
        Assert.Equal(1, await StoredAsync());

        var clock = Stopwatch.StartNew();
        var receipt = await stomp.WriteAndAwaitReceiptAsync([Send("d", ("receipt", "r1"))], "r1", CancellationToken.None).WaitAsync(Patience.Reaction);
        clock.Stop();

        Assert.Equal("r1", receipt["receipt-id"]);
        Assert.True(clock.Elapsed < Linger / 2, $"the RECEIPT took {clock.Elapsed}: it waited for the linger");
        Assert.Equal(5, await StoredAsync());
        Assert.Equal(1, await GroupCommitsAsync() - before);
    }

    [Fact]
    public async Task A_DISCONNECT_receipt_leaves_once_the_earlier_SENDs_are_stored_without_waiting_out_the_linger()
    {
        var stomp = await ConnectStompAsync();
        await stomp.WriteAndAwaitReceiptAsync([Send("w", ("receipt", "warm"))], "warm", CancellationToken.None).WaitAsync(Patience.Reaction);

        // Stored (and held back to share a commit), then one for local subscribers only, storing nothing.
        await stomp.WriteAsync([Send("a"), Send("local", ("destination", "/topic/elsewhere.x"))], CancellationToken.None);
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("stomp_sends_received_total") >= 3, Patience.Reaction, "the SENDs to reach the gateway");
        Assert.Equal(1, await StoredAsync());

        var clock = Stopwatch.StartNew();
        await stomp.DisconnectAsync(CancellationToken.None).WaitAsync(Patience.Reaction);
        clock.Stop();

        Assert.Equal(2, await StoredAsync()); // "a" was on disk before the RECEIPT left
        Assert.True(clock.Elapsed < Linger / 2, $"the DISCONNECT's RECEIPT took {clock.Elapsed}: it waited for the linger");
        await stomp.DisposeAsync();
    }

    private async Task<StompClientConnection> ConnectStompAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _gateway.StompPort);
        return await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions { Host = "gw" }, CancellationToken.None);
    }

    private static StompFrame Send(string body, params (string, string)[] headers) =>
        StompFrame.Create(StompCommand.Send, Encoding.UTF8.GetBytes(body), [.. headers.Any(h => h.Item1 == "destination") ? [] : new[] { ("destination", "/topic/panel.cmd") }, .. headers]);
}
