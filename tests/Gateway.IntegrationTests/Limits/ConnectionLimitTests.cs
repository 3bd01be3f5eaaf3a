using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gateway.IntegrationTests.Mqtt;

namespace Gateway.IntegrationTests.Limits;

/// <summary>
/// Gateway:Limits on connections, through the real gateway process: each refusal made at accept (the
/// connection closed before any answer), counted in gateway_limits_exceeded_total, and another address
/// still served. 127.0.0.2 and 127.0.0.3 are two sources (all of 127/8 is loopback on Linux), held to
/// the per-address limits (only 127.0.0.1 and ::1 are exempt, and the test's own reads of /metrics come from there).
/// </summary>
public sealed class ConnectionLimitTests : IAsyncLifetime
{
    private static readonly IPAddress Flooder = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Neighbour = IPAddress.Parse("127.0.0.3");

    private GatewayProcess? _gateway;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Connections_over_the_per_address_limit_on_any_listener_are_closed_at_accept_and_another_address_still_connects()
    {
        var gateway = await StartAsync(new()
        {
            ["Gateway__Limits__MaxConnectionsPerAddress"] = "3",
        });
        // Three places taken from one address, on both protocols: the count is the listeners' together.
        await using var first = await RawMqttClient.OpenAsync(gateway.MqttPort, 4, "first", Flooder);
        await using var second = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "second", Flooder);
        await using var third = await RawStompClient.ConnectAsync(gateway.StompPort, Flooder);

        Assert.True(await MqttRefusedAsync(gateway.MqttPort, Flooder), "a fourth MQTT connection from the address got a CONNACK");
        Assert.True(await StompRefusedAsync(gateway.StompPort, Flooder), "a fourth STOMP connection from the address got CONNECTED");
        await using var neighbour = await RawMqttClient.OpenAsync(gateway.MqttPort, 4, "neighbour", Neighbour);
        await Poll.UntilAsync(async () => await gateway.MetricAsync("limits_exceeded_total", "max_connections_per_address") == 2, Patience.Reaction, "both refusals counted");
        Assert.Contains("Limit max_connections_per_address: 127.0.0.2", gateway.Output);
    }

    [Fact]
    public async Task A_connection_over_the_total_is_closed_at_accept_on_every_listener_and_its_place_is_given_back_when_one_closes()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__MaxConnections"] = "3" });
        var clients = new List<RawMqttClient>();
        // The start's probes of every port (connect, then close) are counted until the gateway has seen
        // them close, a moment later: the three places are taken as soon as they are free.
        for (var i = 0; i < 3; i++)
        {
            var id = $"c{i}";
            await Poll.UntilAsync(async () =>
            {
                var client = await RawMqttClient.DialAsync(gateway.MqttPort);
                await client.SendAsync(MqttPacketBytes.Connect(4, id));
                if (await client.ReceiveAsync(Patience.Reaction) is { Type: RawMqttClient.ConnAck } connAck && connAck.Body[1] == 0)
                {
                    clients.Add(client);
                    return true;
                }
                await client.DisposeAsync();
                return false;
            }, Patience.Reaction, $"a place for client {id}");
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.HttpPort}") };

        Assert.True(await MqttRefusedAsync(gateway.MqttPort), "an MQTT connection over the total got a CONNACK");
        Assert.True(await StompRefusedAsync(gateway.StompPort), "a STOMP connection over the total got CONNECTED");
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync("/healthz")); // the HTTP port too (a WebSocket's way in)

        await clients[0].DisposeAsync();
        await Poll.UntilAsync(async () => await TryMetricAsync(gateway, "max_connections") >= 3, Patience.Reaction, "the three refusals counted, once a place is free to read /metrics");
        foreach (var client in clients.Skip(1)) await client.DisposeAsync();
        await using var later = await RawMqttClient.OpenAsync(gateway.MqttPort, 4, "later");
    }

    [Fact]
    public async Task An_address_opening_connections_faster_than_the_rate_is_refused_beyond_its_burst_and_another_address_is_not()
    {
        var gateway = await StartAsync(new()
        {
            ["Gateway__Limits__ConnectRatePerAddress"] = "0.1", // one token every 10 s: none comes back during the test
            ["Gateway__Limits__ConnectBurstPerAddress"] = "5",
        });
        var accepted = 0;
        for (var i = 0; i < 8; i++)
        {
            await using var attempt = await RawMqttClient.DialAsync(gateway.MqttPort, Flooder);
            await attempt.SendAsync(MqttPacketBytes.Connect(4, $"burst{i}"));
            if (await attempt.ReceiveAsync(Patience.Reaction) is { Type: RawMqttClient.ConnAck }) accepted++;
        }

        Assert.InRange(accepted, 5, 6); // the burst, and at most one token refilled however slow the machine
        await using var neighbour = await RawMqttClient.OpenAsync(gateway.MqttPort, 4, "neighbour", Neighbour);
        Assert.Equal(8 - accepted, await gateway.MetricAsync("limits_exceeded_total", "connect_rate"));
    }

    [Fact]
    public async Task An_mqtt_connection_that_sends_no_connect_is_closed_after_the_timeout_and_others_connect_meanwhile()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__ConnectTimeout"] = "00:00:01" });
        await using var silent = await RawMqttClient.DialAsync(gateway.MqttPort);
        var clock = Stopwatch.StartNew();
        await using var other = await RawMqttClient.OpenAsync(gateway.MqttPort, 5, "other");

        Assert.Null(await silent.ReceiveAsync(Patience.Reaction));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"closed after {clock.Elapsed}, before the timeout");
        Assert.Equal(1, await gateway.MetricAsync("limits_exceeded_total", "mqtt_connect_timeout"));
        await other.SendAsync(RawMqttConnection.PingReq);
        Assert.Equal(13, (await other.ReceiveAsync(Patience.Reaction))?.Type); // PINGRESP: the other is still served
    }

    [Fact]
    public async Task A_stomp_connection_that_sends_no_frame_gets_an_error_after_the_connect_timeout_and_is_counted()
    {
        var gateway = await StartAsync(new() { ["Gateway__Stomp__ConnectTimeout"] = "00:00:01" });
        await using var silent = await RawStompClient.DialAsync(gateway.StompPort);

        var answer = await silent.ReceiveAsync(Patience.Reaction);

        Assert.StartsWith("ERROR\n", answer);
        Assert.Contains("expected a CONNECT frame within 1 s", answer);
        Assert.Null(await silent.ReceiveAsync(Patience.Reaction));
        await Poll.UntilAsync(async () => await gateway.MetricAsync("limits_exceeded_total", "stomp_connect_timeout") == 1, Patience.Reaction, "the timeout counted");
    }

    [Fact]
    public async Task A_websocket_handshake_dribbled_slower_than_the_timeout_is_closed()
    {
        var gateway = await StartAsync(new() { ["Gateway__Limits__ConnectTimeout"] = "00:00:01" });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, gateway.HttpPort);
        var clock = Stopwatch.StartNew();
        await socket.SendAsync("GET /mqtt HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"u8.ToArray()); // and never the rest

        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(Patience.Reaction);
        int read;
        do
        {
            read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token); // Kestrel may answer 408 before it closes
        }
        while (read > 0);

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"closed after {clock.Elapsed}, before the timeout");
        Assert.Contains("gateway_connections_open ", await gateway.GetAsync("/metrics")); // the HTTP port serves others all along
    }

    private async Task<GatewayProcess> StartAsync(Dictionary<string, string> settings)
    {
        _gateway = new GatewayProcess(settings);
        await _gateway.StartAsync();
        return _gateway;
    }

    /// <summary>The metric, or -1 while the HTTP port still refuses (every place taken).</summary>
    private static async Task<double> TryMetricAsync(GatewayProcess gateway, string reason)
    {
        try
        {
            return await gateway.MetricAsync("limits_exceeded_total", reason);
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Whether a connection closed at accept gave no CONNACK: read to the end, or reset by the gateway's
    /// close before the CONNECT was even sent (under load the close can beat the client's first write).
    /// </summary>
    private static async Task<bool> MqttRefusedAsync(int port, System.Net.IPAddress? from = null)
    {
        try
        {
            await using var client = await RawMqttClient.DialAsync(port, from);
            await client.SendAsync(MqttPacketBytes.Connect(4, "fourth"));
            return await client.ReceiveAsync(Patience.Reaction) is null;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true;
        }
    }

    /// <summary>The same for STOMP: no CONNECTED, the connection closed or reset.</summary>
    private static async Task<bool> StompRefusedAsync(int port, System.Net.IPAddress? from = null)
    {
        try
        {
            await using var client = await RawStompClient.DialAsync(port, from);
            await client.SendAsync("CONNECT\naccept-version:1.2\nhost:gw\n\n");
            return await client.ReceiveAsync(Patience.Reaction) is null;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true;
        }
    }
}
