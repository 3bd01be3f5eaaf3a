using System.Net.Sockets;
using System.Text;
using Gateway.Core.Outbox;
using Gateway.Stomp;
using Gateway.Storage.LiteDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Browser;

/// <summary>
/// STOMP over TCP against the gateway in this process, with the outbox's fsync behind a gate the
/// test holds: a RECEIPT that could leave before the commit is on disk would arrive while it is shut.
/// </summary>
public sealed class StompGatewayTests : IAsyncLifetime
{
    private InProcessGateway _gateway = null!;

    private GatedDiskSync Sync => _gateway.Sync;
    private int MqttPort => _gateway.MqttPort;
    private int StompPort => _gateway.StompPort;
    private int HttpPort => _gateway.HttpPort;
    private WebApplication App => _gateway.App;

    public async Task InitializeAsync() => _gateway = await InProcessGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private IOutbox Outbox => App.Services.GetRequiredService<IOutbox>();

    private async Task<StompClientConnection> ConnectStompAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", StompPort);
        return await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions { Host = "gw" }, CancellationToken.None);
    }

    private static StompFrame Send(string destination, string body, params (string, string)[] headers) =>
        StompFrame.Create(StompCommand.Send, Encoding.UTF8.GetBytes(body), [("destination", destination), .. headers]);

    private async Task WarmUpAsync(StompClientConnection stomp)
    {
        // The first commit into new files makes LiteDB flush on its own: get it done before watching.
        var synced = Sync.SyncsCompleted;
        await stomp.WriteAndAwaitReceiptAsync([Send("/topic/warm.up", "w", ("receipt", "warm"))], "warm", CancellationToken.None).WaitAsync(Patience.Reaction);
        await Poll.UntilAsync(() => Sync.SyncsCompleted > synced, Patience.Reaction, "the warm-up's fsync to finish");
    }

    [Fact]
    public async Task A_RECEIPT_for_a_SEND_leaves_only_after_the_commit_is_on_disk()
    {
        await using var stomp = await ConnectStompAsync();
        Assert.Equal("1.2", stomp.Connected["version"]);
        await WarmUpAsync(stomp);
        Sync.Entered.Reset();
        Sync.Close();

        var receipt = stomp.WriteAndAwaitReceiptAsync([Send("/topic/sensors.a.temp", "21.5", ("receipt", "r1"))], "r1", CancellationToken.None);
        await Poll.UntilAsync(() => Sync.Entered.IsSet, Patience.Reaction, "the outbox to reach its fsync");
        await Assert.ThrowsAsync<TimeoutException>(() => receipt.WaitAsync(TimeSpan.FromMilliseconds(300)));

        Sync.Open();
        Assert.Equal("r1", (await receipt.WaitAsync(Patience.Reaction))["receipt-id"]);
        var stored = Outbox.ReadAfter(0, 100, 1 << 20).Single(m => m.Message.Topic == "sensors/a/temp").Message;
        Assert.Equal("21.5", Encoding.UTF8.GetString(stored.Payload.Span));
    }

    [Fact]
    public async Task A_SEND_the_store_cannot_commit_gets_an_ERROR_naming_the_cause_and_no_RECEIPT()
    {
        await using var stomp = await ConnectStompAsync();
        await WarmUpAsync(stomp);
        Sync.FailNext = new IOException("No space left on device");
        _gateway.ExpectErrors(GatewayErrors.CommitFailed + "No space left on device"); // the failure this test injects

        var failure = await Assert.ThrowsAsync<StompErrorException>(() =>
            stomp.WriteAndAwaitReceiptAsync([Send("/topic/sensors.a.temp", "1", ("receipt", "r2"))], "r2", CancellationToken.None).WaitAsync(Patience.Reaction));
        Assert.Contains("No space left on device", failure.Frame!["message"]);
        Assert.Equal("r2", failure.Frame["receipt-id"]);

        // The gateway is fine: the next connection's SEND is stored.
        await using var again = await ConnectStompAsync();
        await again.WriteAndAwaitReceiptAsync([Send("/topic/sensors.a.temp", "2", ("receipt", "r3"))], "r3", CancellationToken.None).WaitAsync(Patience.Reaction);
    }

    [Fact]
    public async Task An_MQTT_publish_reaches_STOMP_subscribers_by_the_mapped_destination_and_wildcards()
    {
        await using var stomp = await ConnectStompAsync();
        await stomp.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Subscribe, ("destination", "/topic/sensors.*.temp"), ("id", "0"), ("receipt", "s"))], "s", CancellationToken.None);
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev", MqttProtocolVersion.V500);

        await device.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/line1/hum").WithPayload("55").WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await device.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/line1/temp").WithPayload("{\"c\":21.5}")
            .WithContentType("application/json").WithUserProperty("unit", Encoding.UTF8.GetBytes("C")).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

        var message = await stomp.Messages.ReadAsync().AsTask().WaitAsync(Patience.Reaction);
        Assert.Equal("/topic/sensors.line1.temp", message["destination"]); // the humidity reading did not match
        Assert.Equal("0", message["subscription"]);
        Assert.Equal("application/json", message["content-type"]);
        Assert.Equal("C", message["unit"]);
        Assert.Equal("{\"c\":21.5}", Encoding.UTF8.GetString(message.Body.Span));
    }

    [Fact]
    public async Task A_PUBACK_and_a_RECEIPT_do_not_wait_for_the_fan_out_to_STOMP_subscribers_who_still_get_every_message_in_order()
    {
        // A fan-out that takes its time (a thousand dashboards, a slow board): a bus subscriber, offered
        // each message before the real STOMP subscriber below, that holds its callback until released.
        var bus = App.Services.GetRequiredService<Gateway.Core.Bus.LocalBus>();
        using var release = new ManualResetEventSlim(false);
        using var offered = new SemaphoreSlim(0);
        using var holding = bus.Subscribe("sensors/#", _ =>
        {
            offered.Release();
            release.Wait(Patience.Reaction);
            return true;
        });
        await using var dashboard = await ConnectStompAsync();
        await dashboard.WriteAndAwaitReceiptAsync([StompFrame.Create(StompCommand.Subscribe, ("destination", "/topic/sensors.g.*"), ("id", "0"), ("receipt", "s"))], "s", CancellationToken.None).WaitAsync(Patience.Reaction);
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev-fan-out", MqttProtocolVersion.V500);
        await using var browser = await ConnectStompAsync();

        Assert.True((await device.PublishAsync("sensors/g/temp", "m1").WaitAsync(Patience.Reaction)).IsSuccess);
        Assert.True(await offered.WaitAsync(Patience.Reaction), "the first message never reached the local bus");
        // The fan-out is held on m1; the next PUBACK and a RECEIPT still come.
        await browser.WriteAndAwaitReceiptAsync([Send("/topic/sensors.g.hum", "s1", ("receipt", "r-s1"))], "r-s1", CancellationToken.None).WaitAsync(Patience.Reaction);
        Assert.True((await device.PublishAsync("sensors/g/temp", "m2").WaitAsync(Patience.Reaction)).IsSuccess);
        Assert.False(dashboard.Messages.TryRead(out _), "the dashboard got a message while the fan-out was held");

        release.Set();
        var bodies = new List<string>();
        for (var i = 0; i < 3; i++) bodies.Add(Encoding.UTF8.GetString((await dashboard.Messages.ReadAsync().AsTask().WaitAsync(Patience.Reaction)).Body.Span));
        Assert.Equal(["m1", "s1", "m2"], bodies);
    }

    [Fact]
    public async Task A_STOMP_SEND_reaches_MQTT_subscribers_once_and_is_stored_once()
    {
        await using var subscriber = await MqttTestClient.ConnectAsync(MqttPort, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("commands/#");
        await using var stomp = await ConnectStompAsync();
        var before = Outbox.LastCommittedSequence;

        await stomp.WriteAndAwaitReceiptAsync([Send("/topic/commands.valve7", "open", ("receipt", "c1"), ("content-type", "text/plain"), ("operator", "ana"))], "c1", CancellationToken.None).WaitAsync(Patience.Reaction);

        await Poll.UntilAsync(() => !subscriber.Received.IsEmpty, Patience.Reaction, "the MQTT subscriber to receive the SEND");
        // A marker down the same path: a duplicate of the first SEND would reach the subscriber before it.
        await stomp.WriteAndAwaitReceiptAsync([Send("/topic/commands.marker", "marker", ("receipt", "c2"))], "c2", CancellationToken.None).WaitAsync(Patience.Reaction);
        await Poll.UntilAsync(() => subscriber.Received.Any(m => m.Topic == "commands/marker"), Patience.Reaction, "the marker to reach the MQTT subscriber");
        var received = Assert.Single(subscriber.Received, m => m.Topic != "commands/marker");
        Assert.Equal("commands/valve7", received.Topic);
        Assert.Equal("open", Encoding.UTF8.GetString(received.Payload));
        Assert.Equal("text/plain", received.ContentType);
        Assert.Contains(received.UserProperties, p => p.Name == "operator" && Encoding.UTF8.GetString(p.ValueBuffer.Span) == "ana");

        Assert.Equal(before + 2, Outbox.LastCommittedSequence); // the SEND and the marker: the injected copies were not stored again
        var stored = Outbox.ReadAfter(before, 10, 1 << 20).Select(m => m.Message).ToList();
        Assert.Equal(["commands/valve7", "commands/marker"], stored.Select(m => m.Topic));
        Assert.Equal("stomp:", stored[0].ClientId[..6]);
    }

    [Fact]
    public async Task A_WebSocket_client_still_streaming_an_oversized_SEND_gets_an_ERROR_and_its_session_ends()
    {
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.AddSubProtocol("v12.stomp");
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{HttpPort}/stomp"), CancellationToken.None);
        var metrics = App.Services.GetRequiredService<Gateway.Core.Diagnostics.GatewayMetrics>();
        async Task SendTextAsync(string text) =>
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);

        await SendTextAsync("CONNECT\naccept-version:1.2\nhost:gw\n\n\0");
        await SendTextAsync("SUBSCRIBE\nid:0\ndestination:/topic/a\n\n\0");
        await SendTextAsync("SEND\ndestination:/topic/a\ncontent-length:5000000\n\n");
        // Keep streaming the body after the refusal, as a browser mid-upload would: nothing may wait on it.
        var streaming = Task.Run(async () =>
        {
            var chunk = new string('x', 64 * 1024);
            try
            {
                for (var i = 0; i < 40; i++) await SendTextAsync(chunk);
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException)
            {
                // the gateway closed the connection: expected
            }
        });

        var received = new StringBuilder();
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Patience.Reaction);
                if (result.MessageType == System.Net.WebSockets.WebSocketMessageType.Close) break;
                received.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
        }
        catch (System.Net.WebSockets.WebSocketException)
        {
            // closed without a handshake: also an end
        }
        Assert.Contains("ERROR", received.ToString());
        Assert.Contains("content-length 5000000 is over the limit", received.ToString());
        await streaming.WaitAsync(Patience.Reaction);
        // The session ended and let go of its subscription: nothing is left open.
        await Poll.UntilAsync(() => metrics.Get("stomp_connections_open") == 0, Patience.Reaction, "the STOMP session to end");
        Assert.Equal(0, App.Services.GetRequiredService<Gateway.Core.Bus.LocalBus>().SubscriberCount);
    }

    [Theory]
    [InlineData("/stomp", "v12.stomp")]
    [InlineData("/mqtt", "mqtt")]
    public async Task A_page_of_another_origin_is_refused_and_the_gateway_s_own_page_is_not(string path, string subprotocol)
    {
        async Task<System.Net.WebSockets.ClientWebSocket> ConnectAsync(string origin)
        {
            var socket = new System.Net.WebSockets.ClientWebSocket();
            socket.Options.AddSubProtocol(subprotocol);
            socket.Options.SetRequestHeader("Origin", origin);
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{HttpPort}{path}"), CancellationToken.None);
            return socket;
        }

        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => ConnectAsync("http://evil.example"));
        Assert.Contains("403", refused.Message);
        using var own = await ConnectAsync($"http://127.0.0.1:{HttpPort}");
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, own.State);
    }
}
