using System.Text.Json;
using Gateway.Status;

namespace Gateway.UnitTests.Status;

public sealed class StatusTableTests
{
    /// <summary>An <c>/api/status</c> answer as the gateway writes it (camelCase).</summary>
    private const string Sample = """
        {"gatewayId":"line-3","takenAt":"2026-12-07T22:10:05+00:00","startedAt":"2026-12-07T21:08:05+00:00",
         "upstreams":[{"name":"cloud","state":"reconnecting","since":"2026-12-07T22:09:40+00:00","endpoint":"amqp://rabbit:5672/",
           "blockedReason":null,"lastError":{"message":"Upstream cloud: link to amqp://rabbit:5672/ failed: connection refused","at":"2026-12-07T22:10:01+00:00"},
           "forwardPerSecond":0,"backlog":{"messages":20013,"bytes":1536000,"exact":false,"oldestAgeSeconds":125.4,"drainEtaSeconds":null}},
          {"name":"archive","state":"connected","since":"2026-12-07T21:08:06+00:00","endpoint":"amqp://archive:5672/",
           "blockedReason":null,"lastError":null,"forwardPerSecond":812.4,"backlog":{"messages":0,"bytes":0,"exact":true,"oldestAgeSeconds":null,"drainEtaSeconds":0}}],
         "routes":[{"filter":"plant/#","upstream":"cloud","messages":20013,"bytes":1536000,"exact":false}],
         "rates":{"ingestPerSecond":812.6,"forwardPerSecond":812.4},
         "disk":{"freeBytes":8589934592,"minFreeBytes":268435456,"refusing":false,"storeMessages":20013,"maxMessages":5000000,"storeBytes":1536000,"maxBytes":4294967296},
         "connections":{"mqtt":2,"stomp":1,"clients":[{"protocol":"mqtt 5","id":"sensor-7","endpoint":"10.0.0.7:50122","connectedAt":"2026-12-07T21:30:00+00:00"},
           {"protocol":"stomp","id":"s1","endpoint":"10.0.0.9:41000 (WebSocket)","connectedAt":"2026-12-07T21:31:00+00:00"}]},
         "faults":[{"at":"2026-12-07T22:10:01+00:00","eventId":402,"level":"Warning","kind":"link-failed","message":"Upstream cloud: link to amqp://rabbit:5672/ failed: connection refused","repeats":4}],
         "sample":{"at":1796681405,"ingestPerSecond":812.6,"forwardPerSecond":812.4,"backlog":20013}}
        """;

    private static string[] Render() =>
        StatusTable.Render(JsonSerializer.Deserialize(Sample, StatusJson.Default.StatusReport)!).Split('\n');

    [Fact]
    public void The_table_has_a_row_per_upstream_with_its_link_backlog_and_rates_in_aligned_columns()
    {
        var lines = Render();

        Assert.Equal("Gateway line-3, as of 22:10:05 UTC, up 1 h 2 min", lines[0]);
        var header = Assert.Single(lines, l => l.StartsWith("UPSTREAM", StringComparison.Ordinal));
        var cloud = Assert.Single(lines, l => l.StartsWith("cloud ", StringComparison.Ordinal));
        var archive = Assert.Single(lines, l => l.StartsWith("archive ", StringComparison.Ordinal));
        Assert.Equal("UPSTREAM  LINK          SINCE     ENDPOINT              WAITING  BYTES    OLDEST     DRAIN ETA     FWD/S", header);
        Assert.Equal("cloud     reconnecting  22:09:40  amqp://rabbit:5672/   ~20,013  1.5 MiB  2 min 5 s  not draining  0", cloud);
        Assert.Equal("archive   connected     21:08:06  amqp://archive:5672/  0        0 B      -          0 s           812", archive);
        Assert.Contains("  cloud: last error at 22:10:01: Upstream cloud: link to amqp://rabbit:5672/ failed: connection refused", lines);
    }

    [Fact]
    public void The_table_shows_routes_rates_store_disk_clients_and_faults()
    {
        var lines = Render();

        Assert.Contains("plant/#  cloud     ~20,013  1.5 MiB", lines);
        Assert.Contains("Rates    in 813/s, forwarded 812/s", lines);
        Assert.Contains("Store    20,013 of 5,000,000 messages, 1.5 MiB of 4.0 GiB", lines);
        Assert.Contains("Disk     8.0 GiB free, new messages refused below 256.0 MiB", lines);
        Assert.Contains("Clients  MQTT 2, STOMP 1", lines);
        Assert.Contains("sensor-7  mqtt 5    10.0.0.7:50122              21:30:00", lines);
        Assert.Contains("  22:10:01  link-failed (x4): Upstream cloud: link to amqp://rabbit:5672/ failed: connection refused", lines);
    }

    [Fact]
    public void A_backlog_that_holds_while_messages_are_forwarded_is_kept_up_with_not_stuck()
    {
        var report = JsonSerializer.Deserialize(Sample, StatusJson.Default.StatusReport)!;
        var flowing = report with { Upstreams = [report.Upstreams[0] with { State = "connected", ForwardPerSecond = 40 }] };

        var cloud = Assert.Single(StatusTable.Render(flowing).Split('\n'), l => l.StartsWith("cloud ", StringComparison.Ordinal));

        Assert.Contains("  keeping up  ", cloud, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(-1L, "unknown")]
    public void Bytes_read_in_binary_units(long bytes, string expected) => Assert.Equal(expected, StatusTable.Bytes(bytes));
}
