using System.Net.Http.Json;
using Gateway.Status;

namespace Gateway.IntegrationTests.Status;

/// <summary>
/// <c>/api/status</c>, its event stream and <c>gateway status</c> through the real gateway process,
/// with known traffic and upstreams whose brokers are not there (nothing listens on their ports),
/// so the backlog counts are exact and stay put.
/// </summary>
public sealed class StatusApiTests : IAsyncLifetime
{
    private readonly GatewayProcess _gateway = new(new GatewaySettings()
        .Upstream("cloud", $"amqp://guest:guest@127.0.0.1:{FreePort.Next()}/")
        .Upstream("archive", $"amqp://guest:guest@127.0.0.1:{FreePort.Next()}/")
        .Route("plant/a/#", "cloud")
        .Route("plant/b/#", "cloud")
        .Route("plant/b/#", "archive")
        .Set("Gateway__Outbox__MaxMessages", "1000")
        .Build());

    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await _gateway.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_gateway.HttpPort}") };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _gateway.DisposeAsync();
    }

    private async Task<StatusReport> StatusAsync() =>
        (await _http.GetFromJsonAsync("/api/status", StatusJson.Default.StatusReport))!;

    private async Task<StatusReport> StatusWhenAsync(Func<StatusReport, bool> wanted, string what)
    {
        StatusReport? last = null;
        await Poll.UntilAsync(async () => wanted(last = await StatusAsync()), Patience.Reaction, what);
        return last!;
    }

    /// <summary>30 messages of 10 bytes to plant/a (cloud), 20 of 5 bytes to plant/b (cloud and archive).</summary>
    private static async Task PublishKnownTrafficAsync(MqttTestClient device)
    {
        for (var i = 0; i < 30; i++) await device.PublishAsync("plant/a/temp", $"a-{i:d8}");
        for (var i = 0; i < 20; i++) await device.PublishAsync("plant/b/temp", $"b-{i:d3}");
    }

    [Fact]
    public async Task The_status_counts_each_upstreams_and_routes_backlog_exactly_while_their_brokers_are_down()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "status-device");
        await PublishKnownTrafficAsync(device);

        var status = await StatusWhenAsync(s => s.Disk.StoreMessages == 50 && s.Upstreams.All(u => u.LastError is not null),
            "a snapshot with the 50 messages and both links failed");

        var cloud = Assert.Single(status.Upstreams, u => u.Name == "cloud");
        Assert.Equal("reconnecting", cloud.State); // down for under a minute
        Assert.Equal(new UpstreamBacklog(50, 30 * 10 + 20 * 5, true, cloud.Backlog.OldestAgeSeconds, null), cloud.Backlog);
        Assert.InRange(cloud.Backlog.OldestAgeSeconds!.Value, 0, Patience.Reaction.TotalSeconds);
        Assert.Contains("failed", cloud.LastError!.Message, StringComparison.Ordinal);
        var archive = Assert.Single(status.Upstreams, u => u.Name == "archive");
        Assert.Equal((20L, 100L, true), (archive.Backlog.Messages, archive.Backlog.Bytes, archive.Backlog.Exact));

        Assert.Equal(
            [("plant/a/#", "cloud", 30L, 300L), ("plant/b/#", "cloud", 20L, 100L), ("plant/b/#", "archive", 20L, 100L)],
            status.Routes.Select(r => (r.Filter, r.Upstream, r.Messages, r.Bytes)).OrderBy(r => r.Upstream == "archive").ThenBy(r => r.Filter));

        Assert.Equal((50L, 400L, 1000L), (status.Disk.StoreMessages, status.Disk.StoreBytes, status.Disk.MaxMessages));
        Assert.True(status.Disk.FreeBytes > 0);
        Assert.Equal(1, status.Connections.Mqtt);
        Assert.Contains(status.Connections.Clients, c => c.Id == "status-device" && c.Protocol.StartsWith("mqtt", StringComparison.Ordinal));
        Assert.Contains(status.Faults, f => f.Kind == "link-failed" && f.Message.Contains("cloud", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_event_stream_sends_a_snapshot_every_second_and_shows_new_messages_within_two()
    {
        using var stream = new StreamReader(await _http.GetStreamAsync("/api/status/events"));
        var first = await NextSnapshotAsync(stream);
        var second = await NextSnapshotAsync(stream);
        Assert.InRange((second.TakenAt - first.TakenAt).TotalSeconds, 0.5, 2.5);

        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "stream-device");
        await PublishKnownTrafficAsync(device);
        var published = DateTimeOffset.UtcNow;
        StatusReport seen;
        do seen = await NextSnapshotAsync(stream);
        while (seen.Disk.StoreMessages < 50 && DateTimeOffset.UtcNow - published < Patience.Reaction);

        Assert.Equal(50, seen.Disk.StoreMessages);
        Assert.True(DateTimeOffset.UtcNow - published < TimeSpan.FromSeconds(2) + Patience.Quiet * 2, "the stream showed the messages late");
        var history = (await _http.GetFromJsonAsync("/api/status/history", StatusJson.Default.StatusSampleArray))!;
        Assert.Contains(history, s => s.Backlog == 50);
        Assert.Equal(history.Select(s => s.At).Order(), history.Select(s => s.At));
    }

    [Fact]
    public async Task Gateway_status_prints_the_upstreams_backlog_disk_and_clients_as_a_table()
    {
        await using var device = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "table-device");
        await PublishKnownTrafficAsync(device);
        await StatusWhenAsync(s => s.Disk.StoreMessages == 50, "a snapshot with the 50 messages");

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await StatusCommand.RunAsync(new Uri($"http://127.0.0.1:{_gateway.HttpPort}"), stdout, stderr, CancellationToken.None);

        Assert.Equal(0, exit);
        Assert.Equal("", stderr.ToString());
        var lines = stdout.ToString().Split('\n');
        Assert.Matches(@"^cloud\s+reconnecting\s+\d\d:\d\d:\d\d\s+amqp://127\.0\.0\.1:\d+/\s+50\s+400 B\s", Assert.Single(lines, l => l.StartsWith("cloud ", StringComparison.Ordinal)));
        Assert.Matches(@"^archive\s+reconnecting\s.*\s20\s+100 B\s", Assert.Single(lines, l => l.StartsWith("archive ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("Store    50 of 1,000 messages, 400 B of ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l == "Clients  MQTT 1, STOMP 0");
        Assert.Contains(lines, l => l.StartsWith("table-device ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gateway_status_exits_1_with_one_line_when_the_gateway_is_not_there()
    {
        var port = FreePort.Next();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await StatusCommand.RunAsync(new Uri($"http://127.0.0.1:{port}"), stdout, stderr, CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Equal("", stdout.ToString());
        var line = Assert.Single(stderr.ToString().TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"gateway status: cannot reach the gateway at http://127.0.0.1:{port}/: ", line, StringComparison.Ordinal);
    }

    private static async Task<StatusReport> NextSnapshotAsync(StreamReader stream)
    {
        using var deadline = new CancellationTokenSource(Patience.Reaction);
        while (true)
        {
            var line = await stream.ReadLineAsync(deadline.Token) ?? throw new EndOfStreamException("the event stream ended");
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                return System.Text.Json.JsonSerializer.Deserialize(line.AsSpan(6), StatusJson.Default.StatusReport)!;
        }
    }
}
