using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Faults;

public sealed class QuotaTests
{
    [Fact]
    public async Task RejectNew_answers_MQTT5_with_quota_exceeded_and_drops_MQTT311_without_a_puback()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Outbox__MaxMessages", "5").Build());
        await gateway.StartAsync();
        await using var v5 = await MqttTestClient.ConnectAsync(gateway.MqttPort, "v5", MqttProtocolVersion.V500);
        await v5.PublishSequenceAsync("sensors/a", "v5", 5);

        var refused = await v5.PublishAsync("sensors/a", "one too many");
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, refused.ReasonCode);
        Assert.Contains("the store is full", refused.ReasonString);

        await using var v3 = await MqttTestClient.ConnectAsync(gateway.MqttPort, "v3", MqttProtocolVersion.V311);
        await Assert.ThrowsAnyAsync<Exception>(() => v3.PublishAsync("sensors/a", "also too many"));
        await Poll.UntilAsync(() => !v3.IsConnected, TimeSpan.FromSeconds(10), "the MQTT 3.1.1 client to be disconnected");
        Assert.Equal(5, await gateway.MetricAsync("outbox_messages"));
        Assert.Equal(2, await gateway.MetricAsync("mqtt_publishes_refused_total"));
    }

    [Fact]
    public async Task DropOldest_keeps_the_newest_and_counts_the_drops_per_route()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", $"amqp://127.0.0.1:{FreePort.Next()}/") // never reachable: everything stays stored
            .Route("sensors/#", "cloud").Set("Gateway__Routes__0__WhenFull", "DropOldest")
            .Set("Gateway__Outbox__MaxMessages", "10").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await device.PublishSequenceAsync("sensors/a", "dev", 25); // every one acknowledged

        Assert.Equal(10, await gateway.MetricAsync("outbox_messages"));
        Assert.Equal(15, await gateway.MetricAsync("messages_dropped_total", "sensors/#"));
        Assert.Contains("dropped the", gateway.Output);
    }
}

/// <summary>A real full disk: the data folder on a small tmpfs made for the test (needs root, as CI has).</summary>
public sealed class FullDiskTests : IAsyncLifetime
{
    private readonly string _mount = Directory.CreateTempSubdirectory("gateway-smalldisk-").FullName;

    public async Task InitializeAsync()
    {
        var (code, output) = await ChildProcesses.RunAsync("mount", ["-t", "tmpfs", "-o", "size=40m", "tmpfs", _mount]);
        if (code != 0) throw new InvalidOperationException($"this test mounts a small tmpfs and needs root: {output}");
    }

    public async Task DisposeAsync()
    {
        await ChildProcesses.RunAsync("umount", ["-l", _mount]);
        Directory.Delete(_mount, recursive: true);
    }

    /// <summary>Publishes payloads of <paramref name="size"/> bytes until one is refused; how many were acknowledged, and the refusal.</summary>
    private static async Task<(int Acked, MqttClientPublishResult? Refused)> PublishUntilRefusedAsync(MqttTestClient device, int size)
    {
        var payload = new string('x', size);
        for (var acked = 0; acked < 20_000; acked++)
        {
            var result = await device.PublishAsync("sensors/a", payload);
            if (!result.IsSuccess) return (acked, result);
        }
        return (20_000, null);
    }

    private Task GrowAsync(string size) => ChildProcesses.RunAsync("mount", ["-o", $"remount,size={size}", _mount]);

    [Fact]
    public async Task Near_the_watermark_publishes_are_refused_nothing_acknowledged_is_lost_and_service_returns_with_space()
    {
        // The watermark must leave room for LiteDB's checkpoint, which copies up to ~8 MB of log into the data file at once.
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Outbox__MinFreeDiskBytes", (16 << 20).ToString()).Build(), dataPath: _mount);
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);

        var (acked, refused) = await PublishUntilRefusedAsync(device, 4000);

        Assert.NotNull(refused);
        Assert.True(refused.ReasonCode == MqttClientPublishReasonCode.QuotaExceeded, $"{refused.ReasonCode}: {refused.ReasonString} after {acked} acks");
        Assert.Contains("disk is almost full", refused.ReasonString);
        Assert.Equal(acked, await gateway.MetricAsync("outbox_messages"));

        await GrowAsync("128m");
        await Poll.UntilAsync(async () => (await device.PublishAsync("sensors/a", "after")).IsSuccess, TimeSpan.FromSeconds(10), "publishes to be accepted again");
        Assert.Equal(acked + 1, await gateway.MetricAsync("outbox_messages"));
    }

    [Fact]
    public async Task A_write_that_fails_for_lack_of_space_fails_the_ack_not_the_gateway()
    {
        // No watermark: the file system itself runs out, and LiteDB's write fails with ENOSPC.
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Outbox__MinFreeDiskBytes", "0").Build(), dataPath: _mount)
            .ExpectErrors(GatewayErrors.CommitFailed + "No space left on device", GatewayErrors.DiskFull); // what this test provokes
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);

        var (acked, refused) = await PublishUntilRefusedAsync(device, 8000);

        Assert.NotNull(refused);
        Assert.Contains("could not commit", refused.ReasonString);
        Assert.Null(gateway.ExitCode); // still running
        Assert.True(await gateway.MetricAsync("outbox_commit_failures_total") >= 1);

        await GrowAsync("128m");
        await Poll.UntilAsync(async () => device.IsConnected && (await device.PublishAsync("sensors/a", "after")).IsSuccess, TimeSpan.FromSeconds(10), "publishes to be accepted again");
        // The console logger writes from a queue of its own, and the output is read as it comes: the
        // line may arrive after the ack that followed it.
        await Poll.UntilAsync(() => gateway.Output.Contains("Outbox reopened after a failed commit"), TimeSpan.FromSeconds(10), "the reopen to be logged");

        // Every acknowledged message is still there after a restart on the same disk.
        await gateway.StopAsync();
        await gateway.StartAsync();
        Assert.True(await gateway.MetricAsync("outbox_messages") >= acked + 1);
    }
}
