using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.IntegrationTests.GatewayUnderTest;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// What an MQTT client declares takes no memory; only the configured limits do. Through the real
/// gateway process, with raw bytes on TCP and WebSocket, its memory read from /proc.
/// </summary>
public sealed class MqttPacketLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>The start of a CONNECT declaring 268,435,455 bytes: 15 bytes that made MQTTnet reserve 256 MiB.</summary>
    private static readonly byte[] HugeConnectStart =
        [0x10, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C];

    /// <summary>Well above what RSS moves by itself with a few hundred connections (threads, JIT); far below one 256 MiB buffer each.</summary>
    private const long GrowthBound = 100L << 20;

    /// <summary>How close to its start RSS comes back once the clients are gone.</summary>
    private const long SettledBound = 40L << 20;

    /// <summary>
    /// Growth allowed in the memory the process has mapped writable (VmData, which also grows by a
    /// thread stack each time the thread pool adds a thread). The unguarded gateway mapped 256 MiB per connection at once; it
    /// became resident only when the GC reused and cleared it, which depends on when collections run.
    /// </summary>
    private const long CommittedBound = 1L << 30;

    private GatewayProcess _gateway = null!;
    private long _startRss;
    private long _startCommitted;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
        await PublishAsync(_gateway, "warm-up", 100); // the ingest path loaded and JIT-compiled before the start is read
        _startRss = Rss(_gateway);
        _startCommitted = Committed(_gateway);
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Fifty_connects_declaring_256_MiB_are_closed_at_their_header_and_take_no_memory()
    {
        var sockets = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => OpenTcpAsync(HugeConnectStart)));

        var outcomes = await Task.WhenAll(sockets.Select(s => OutcomeAsync(s, Patience.Reaction)));

        AssertGrowthWithinBound(sockets.Length);
        Assert.All(outcomes, o => Assert.Equal("closed", o));
        foreach (var socket in sockets) socket.Dispose();
        await AssertSettlesAsync();
        await Poll.UntilAsync(() => _gateway.Output.Contains("sent a CONNECT packet of 268435460 bytes, over the limit of 65536"), Patience.Reaction, "the refusal in the log");
        AssertNoErrors(_gateway);
    }

    [Fact]
    public async Task Over_websocket_fifty_connects_declaring_256_MiB_are_closed_at_their_header_and_take_no_memory()
    {
        var sockets = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => OpenWebSocketAsync(HugeConnectStart)));

        var outcomes = await Task.WhenAll(sockets.Select(s => OutcomeAsync(s, Patience.Reaction)));

        AssertGrowthWithinBound(sockets.Length);
        Assert.All(outcomes, o => Assert.Equal("closed", o));
        foreach (var socket in sockets) socket.Dispose();
        await AssertSettlesAsync();
        AssertNoErrors(_gateway);
    }

    [Fact]
    public async Task A_complete_connect_of_256_MiB_is_not_read_and_gets_no_connack()
    {
        using var socket = await OpenTcpAsync([.. HugeConnectStart, 0x00, 0x02, (byte)'i', (byte)'d']);
        var body = 268_435_455L - (HugeConnectStart.Length - 5 + 4);
        var chunk = new byte[1 << 20];
        var sent = 0L;
        try
        {
            while (sent < body)
            {
                sent += await socket.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, body - sent)));
            }
        }
        catch (SocketException)
        {
            // The gateway closed the connection while the body was still coming: what should happen.
        }

        Assert.True(sent < body, $"the gateway read all {body} bytes of the CONNECT");
        Assert.Equal("closed", await OutcomeAsync(socket, Patience.Reaction));
        AssertGrowthWithinBound(1);
    }

    [Fact]
    public async Task Headers_then_random_bytes_from_200_connections_then_headers_again_take_no_memory()
    {
        // The order that took the unguarded gateway from 76 MB to 1.2 GB (and 2.6 GB after they
        // closed): after the random round, the 256 MiB buffers reserved again are cleared page by page.
        var random = new Random(21); // fixed, so a failure can be replayed
        var randomBytes = Enumerable.Range(0, 200).Select(_ =>
        {
            var bytes = new byte[1024];
            random.NextBytes(bytes);
            return bytes;
        }).ToArray();
        var headers = Enumerable.Repeat(HugeConnectStart, 50).ToArray();

        // A first packet other than CONNECT is refused at its first byte [MQTT-3.1.0-1]; a CONNECT
        // of random length may wait for the rest of its (at most 64 KiB) body, as a slow client would.
        var outcomes = new List<string>();
        outcomes.AddRange(await FloodAsync(headers, mustClose: _ => true));
        outcomes.AddRange(await FloodAsync(randomBytes, mustClose: bytes => bytes[0] >> 4 != 1));
        outcomes.AddRange(await FloodAsync(headers, mustClose: _ => true));

        Assert.All(outcomes, o => Assert.Equal("closed", o));
        await PublishAsync(_gateway, "after-flood", 1000);
        AssertNoErrors(_gateway);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_publish_of_the_largest_message_the_outbox_takes_still_goes_through(bool overWebSocket)
    {
        await PublishAsync(_gateway, "largest", 1 << 20, overWebSocket); // Gateway:Outbox:MaxMessageBytes, by default

        Assert.True(await _gateway.MetricAsync("outbox_messages") >= 2);
        AssertNoErrors(_gateway);
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_pub_publishes_the_largest_message_but_not_one_over_the_packet_limit(string version)
    {
        var stored = await _gateway.MetricAsync("outbox_messages");
        var (largest, overLimit) = (await MosquittoPubAsync(version, 1 << 20), await MosquittoPubAsync(version, (1 << 20) + 128 * 1024));

        Assert.True(largest.ExitCode == 0, $"mosquitto_pub of the largest message failed: {largest.Output}");
        Assert.Equal(stored + 1, await _gateway.MetricAsync("outbox_messages"));
        // MQTT 3.1.1: the gateway closes the connection at the PUBLISH's header (mosquitto_pub: "The
        // connection was lost"). MQTT 5: mosquitto keeps to CONNACK's Maximum Packet Size and never sends it.
        if (version == "mqttv311") Assert.True(overLimit.ExitCode != 0, $"mosquitto_pub of a packet over the limit succeeded: {overLimit.Output}");
        AssertNoErrors(_gateway);
    }

    [Fact]
    public async Task Mqtt5_clients_learn_the_limit_and_a_packet_one_byte_over_it_ends_with_packet_too_large()
    {
        await using var gateway = new GatewayProcess(new Dictionary<string, string> { ["Gateway__Mqtt__MaxPacketBytes"] = "100000" });
        await gateway.StartAsync();
        using var client = new MqttClientFactory().CreateMqttClient();
        MqttClientDisconnectedEventArgs? disconnected = null;
        client.DisconnectedAsync += e =>
        {
            disconnected = e;
            return Task.CompletedTask;
        };
        var connected = await client.ConnectAsync(Options(gateway, "edge", overWebSocket: false).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        Assert.Equal(100_000u, connected.MaximumPacketSize);

        // A QoS 1 PUBLISH with no properties: type byte, 3 length bytes, topic and its length, packet id, property length.
        const string topic = "limits/edge";
        var atLimit = 100_000 - 1 - 3 - (2 + topic.Length) - 2 - 1;
        Assert.True((await client.PublishAsync(Message(topic, atLimit))).IsSuccess);
        await Assert.ThrowsAnyAsync<Exception>(() => client.PublishAsync(Message(topic, atLimit + 1)));

        await Poll.UntilAsync(() => disconnected is not null, Patience.Reaction, "the gateway to disconnect the client");
        Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, disconnected!.Reason);
        Assert.Contains("PUBLISH packet of 100001 bytes, over the limit of 100000", disconnected.ReasonString);
        AssertNoErrors(gateway);
    }

    private static void AssertNoErrors(GatewayProcess gateway) =>
        Assert.True(gateway.ErrorLines.Count == 0, "the gateway logged errors:\n" + string.Join('\n', gateway.ErrorLines));

    private static long Rss(GatewayProcess gateway) => ProcessStatus(gateway, "VmRSS:");

    private static long Committed(GatewayProcess gateway) => ProcessStatus(gateway, "VmData:");

    /// <summary>A size from /proc/&lt;pid&gt;/status, in bytes.</summary>
    private static long ProcessStatus(GatewayProcess gateway, string field)
    {
        var line = File.ReadLines($"/proc/{gateway.ProcessId}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0]) * 1024;
    }

    private void AssertGrowthWithinBound(int connections)
    {
        var (rss, committed) = (Rss(_gateway), Committed(_gateway));
        output.WriteLine($"RSS {_startRss >> 20} MB at start, {rss >> 20} MB with {connections} connections; VmData {_startCommitted >> 20} MB, {committed >> 20} MB");
        Assert.True(committed - _startCommitted < CommittedBound,
            $"with {connections} connections the gateway's writable mappings grew from {_startCommitted >> 20} MB to {committed >> 20} MB, over the bound of {CommittedBound >> 20} MB");
        Assert.True(rss - _startRss < GrowthBound,
            $"with {connections} connections the gateway's RSS grew from {_startRss >> 20} MB to {rss >> 20} MB, over the bound of {GrowthBound >> 20} MB");
    }

    private async Task AssertSettlesAsync()
    {
        await Poll.UntilAsync(() => Rss(_gateway) - _startRss < SettledBound, Patience.Reaction,
            $"the gateway's RSS ({Rss(_gateway) >> 20} MB when this wait began) to come back within {SettledBound >> 20} MB of its start, {_startRss >> 20} MB");
        output.WriteLine($"RSS {Rss(_gateway) >> 20} MB once the connections closed");
    }

    /// <summary>
    /// One connection per entry, each sending its bytes; how those that <paramref name="mustClose"/>
    /// ended, once RSS was checked with all of them open and again, settled, once they all closed.
    /// </summary>
    private async Task<string[]> FloodAsync(byte[][] floods, Func<byte[], bool> mustClose)
    {
        var sockets = await Task.WhenAll(floods.Select(OpenTcpAsync));
        var outcomes = await Task.WhenAll(Enumerable.Range(0, floods.Length).Where(i => mustClose(floods[i])).Select(i => OutcomeAsync(sockets[i], Patience.Reaction)));
        AssertGrowthWithinBound(sockets.Length);
        foreach (var socket in sockets) socket.Dispose();
        await AssertSettlesAsync();
        return outcomes;
    }

    private async Task<Socket> OpenTcpAsync(byte[] bytes)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", _gateway.MqttPort);
        await socket.SendAsync(bytes);
        return socket;
    }

    private async Task<ClientWebSocket> OpenWebSocketAsync(byte[] bytes)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{_gateway.HttpPort}/mqtt"), CancellationToken.None);
        await socket.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        return socket;
    }

    /// <summary>"closed" once the gateway ends the connection having sent nothing; "open" if it still has not after <paramref name="wait"/>.</summary>
    private static async Task<string> OutcomeAsync(Socket socket, TimeSpan wait)
    {
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return read == 0 ? "closed" : $"answered {Convert.ToHexString(buffer, 0, read)}";
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return "closed";
        }
        catch (OperationCanceledException)
        {
            return "open";
        }
    }

    private static async Task<string> OutcomeAsync(ClientWebSocket socket, TimeSpan wait)
    {
        var buffer = new byte[64];
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            var received = await socket.ReceiveAsync(buffer, timeout.Token);
            return received.MessageType == WebSocketMessageType.Close ? "closed" : $"answered {Convert.ToHexString(buffer, 0, received.Count)}";
        }
        catch (WebSocketException)
        {
            return "closed"; // the connection ended without a close handshake
        }
        catch (OperationCanceledException)
        {
            return "open";
        }
    }

    /// <summary>Debian's mosquitto_pub (mosquitto-clients, which ./test.sh installs), QoS 1, so it waits for the PUBACK.</summary>
    private async Task<(int ExitCode, string Output)> MosquittoPubAsync(string version, int payloadBytes)
    {
        if (!File.Exists("/usr/bin/mosquitto_pub")) throw new InvalidOperationException("mosquitto_pub is missing: install mosquitto-clients (./test.sh does)");
        var payload = Path.Combine(_gateway.DataPath, $"payload-{payloadBytes}");
        await File.WriteAllBytesAsync(payload, new byte[payloadBytes]);
        return await ChildProcesses.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", _gateway.MqttPort.ToString(), "-V", version, "-q", "1", "-i", $"mosquitto-{payloadBytes}", "-t", "limits/mosquitto", "-f", payload],
            timeout: Patience.Reaction);
    }

    private static MqttClientOptionsBuilder Options(GatewayProcess gateway, string clientId, bool overWebSocket)
    {
        var options = new MqttClientOptionsBuilder().WithClientId(clientId).WithTimeout(TimeSpan.FromSeconds(30));
        return overWebSocket
            ? options.WithWebSocketServer(o => o.WithUri($"ws://127.0.0.1:{gateway.HttpPort}/mqtt"))
            : options.WithTcpServer("127.0.0.1", gateway.MqttPort);
    }

    private static MqttApplicationMessage Message(string topic, int payloadBytes) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(new byte[payloadBytes])
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();

    /// <summary>A device's publish as MQTTnet sends it (MQTT 3.1.1, QoS 1), acknowledged or the test fails.</summary>
    private static async Task PublishAsync(GatewayProcess gateway, string clientId, int payloadBytes, bool overWebSocket = false)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(gateway, clientId, overWebSocket).Build());
        var result = await client.PublishAsync(Message($"limits/{clientId}", payloadBytes));
        Assert.True(result.IsSuccess, $"the publish of {payloadBytes} bytes was refused: {result.ReasonCode} {result.ReasonString}");
        await client.DisconnectAsync();
    }
}
