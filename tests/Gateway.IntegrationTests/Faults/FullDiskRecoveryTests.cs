using System.Diagnostics;
using Gateway.IntegrationTests.GatewayUnderTest;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Faults;

/// <summary>One RabbitMQ node for the full-disk tests, which stop and start it.</summary>
public sealed class FullDiskBroker : IAsyncLifetime
{
    public const string Queue = "fulldisk-q";

    public RabbitMqNode Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await RabbitMqNode.StartAsync();
        await Node.DeclareQueueBoundAsync(Queue, "amq.topic", "sensors.#"); // durable: still bound when the node comes back
    }

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>
/// The file system under the data folder runs out (a small tmpfs, no watermark) while the broker is
/// down: the gateway refuses, stays up, forwards what it acknowledged once the broker is back, and
/// takes messages again by itself once there is room. Needs root for <c>mount</c>, as CI has.
/// </summary>
public sealed class FullDiskRecoveryTests(FullDiskBroker broker, ITestOutputHelper output) : IClassFixture<FullDiskBroker>, IAsyncLifetime
{
    private static readonly TimeSpan AnswerPatience = TimeSpan.FromSeconds(30);
    private readonly string _mount = Directory.CreateTempSubdirectory("gateway-fulldisk-").FullName;
    private bool _mounted;

    public async Task InitializeAsync()
    {
        if (!RootFactAttribute.IsRoot) return; // skipped
        var (code, text) = await ChildProcesses.RunAsync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", _mount]);
        if (code != 0) throw new InvalidOperationException($"mounting a small tmpfs was refused, even as root: {text}");
        _mounted = true;
    }

    public async Task DisposeAsync()
    {
        if (_mounted) await ChildProcesses.RunAsync("umount", ["-l", _mount]);
        Directory.Delete(_mount, recursive: true);
        if (!await BrokerUpAsync()) await broker.Node.StartAgainAsync(); // as the next test expects it
    }

    private async Task<bool> BrokerUpAsync() => await FreePort.AcceptsAsync(broker.Node.AmqpPort);

    /// <summary>The gateway's last lines, in the test's output when it fails.</summary>
    private void ShowTail(GatewayProcess gateway) =>
        output.WriteLine(string.Join('\n', gateway.Output.Split('\n').Where(l => !l.Contains("dbug:") && !l.Contains("Forwarding.Forwarder") && !l.Contains("MqttIngest[201]")).TakeLast(60)));

    private GatewayProcess Gateway() => new GatewayProcess(new GatewaySettings()
        .Upstream("cloud", broker.Node.AmqpUri).Route("sensors/#", "cloud")
        .Set("Gateway__Outbox__MinFreeDiskBytes", "0") // no watermark: the file system itself runs out
        .Set("Gateway__Outbox__ExpirySweepInterval", "00:00:00.500") // the idle writes run often on the full disk
        .Build(), dataPath: _mount)
        .ExpectErrors(GatewayErrors.CommitFailed + "No space left on device", GatewayErrors.DiskFull); // what these tests provoke

    private Task GrowAsync(string size) => ChildProcesses.RunAsync("mount", ["-o", $"remount,size={size}", _mount]);

    /// <summary>Publishes 1 KB QoS 1 messages until <paramref name="refusalsWanted"/> were refused; every publish must be answered.</summary>
    private static async Task<(List<string> Acked, List<string> Refused, MqttClientPublishResult FirstRefusal)> FillAsync(
        MqttTestClient device, string prefix, int refusalsWanted)
    {
        List<string> acked = [], refused = [];
        MqttClientPublishResult? first = null;
        var filler = new string('x', 1000);
        for (var i = 0; refused.Count < refusalsWanted && i < 100_000; i++)
        {
            var body = $"{prefix}:{i}:{filler}";
            var result = await device.PublishAsync("sensors/a", body).WaitAsync(AnswerPatience); // a hang fails here
            if (result.IsSuccess) acked.Add(body);
            else
            {
                refused.Add(body);
                first ??= result;
            }
        }
        return (acked, refused, first ?? throw new InvalidOperationException("100,000 publishes and no refusal: the disk never filled"));
    }

    /// <summary>Publishes until one is accepted; how long that took.</summary>
    private static async Task<TimeSpan> UntilAcceptedAsync(MqttTestClient device, string body, TimeSpan patience)
    {
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(async () => (await device.PublishAsync("sensors/a", body).WaitAsync(AnswerPatience)).IsSuccess, patience, "a publish to be accepted again");
        return clock.Elapsed;
    }

    [RootFact]
    public async Task A_full_disk_refuses_stays_up_forwards_what_it_acknowledged_and_accepts_again_once_there_is_room()
    {
        await broker.Node.StopAsync();
        await using var gateway = Gateway();
        await gateway.StartAsync();
        using var tail = new Finally(() => ShowTail(gateway));
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500);

        var (acked, refused, first) = await FillAsync(device, "one", refusalsWanted: 50);
        output.WriteLine($"{acked.Count} acknowledged, then refused: {first.ReasonCode} {first.ReasonString}");
        Assert.Null(gateway.ExitCode);
        Assert.Contains("\"writer\":\"disk-full\"", await gateway.GetAsync("/healthz"));

        // The broker returns while the disk is still full: what was acknowledged is read and forwarded.
        await broker.Node.StartAgainAsync();
        var received = await QueueReader.ReadAllOfAsync(broker.Node.AmqpUri, FullDiskBroker.Queue, acked.ToHashSet(), TimeSpan.FromSeconds(180), quiet: TimeSpan.FromSeconds(30));
        var arrived = received.Select(m => m.Body).ToHashSet();
        Assert.True(acked.All(arrived.Contains), $"{acked.Count(a => !arrived.Contains(a))} of {acked.Count} acknowledged messages never arrived");

        await GrowAsync("128m");
        var took = await UntilAcceptedAsync(device, "after-room", TimeSpan.FromSeconds(30));
        output.WriteLine($"accepted again {took.TotalMilliseconds:0} ms after the file system grew");
        Assert.Contains("\"writer\":\"ok\"", await gateway.GetAsync("/healthz"));
        var after = await QueueReader.ReadAsync(broker.Node.AmqpUri, FullDiskBroker.Queue, 1, TimeSpan.FromSeconds(60));
        Assert.Contains("after-room", after.Select(m => m.Body)); // forwarded in order: anything refused before it would be here too
        Assert.Empty(received.Concat(after).Select(m => m.Body).Intersect(refused));

        await gateway.StopAsync();
        Assert.Equal(0, gateway.ExitCode);
        Assert.DoesNotContain(gateway.Output.Split('\n'), l => l.Contains("crit:") || l.Contains("Unhandled exception"));
    }

    [RootFact]
    public async Task A_gateway_started_on_a_full_disk_starts_says_so_forwards_what_it_holds_and_accepts_once_there_is_room()
    {
        await broker.Node.StopAsync();
        await using var gateway = Gateway();
        await gateway.StartAsync();
        using var tail = new Finally(() => ShowTail(gateway));
        List<string> acked;
        await using (var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev", MqttProtocolVersion.V500))
        {
            (acked, _, _) = await FillAsync(device, "two", refusalsWanted: 1);
        }
        await gateway.StopAsync();
        Assert.Equal(0, gateway.ExitCode);
        // Room for the log's checkpoint, taken by another file: deleting it is what makes room.
        await GrowAsync("64m");
        var filler = Path.Combine(_mount, "filler");
        FillTheRest(filler);

        await gateway.StartAsync();
        await Poll.UntilAsync(() => gateway.Output.Contains("opened on a full disk"), TimeSpan.FromSeconds(10), "the full disk to be reported");
        Assert.Single(gateway.Output.Split('\n'), l => l.Contains("opened on a full disk"));
        Assert.Contains("\"writer\":\"disk-full\"", await gateway.GetAsync("/healthz"));
        await using var again = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev2", MqttProtocolVersion.V500);
        var refusedNow = await again.PublishAsync("sensors/a", "refused-while-full").WaitAsync(AnswerPatience);
        Assert.False(refusedNow.IsSuccess);

        await broker.Node.StartAgainAsync();
        var received = await QueueReader.ReadAllOfAsync(broker.Node.AmqpUri, FullDiskBroker.Queue, acked.ToHashSet(), TimeSpan.FromSeconds(180), quiet: TimeSpan.FromSeconds(30));
        var arrived = received.Select(m => m.Body).ToHashSet();
        Assert.True(acked.All(arrived.Contains), $"{acked.Count(a => !arrived.Contains(a))} of {acked.Count} acknowledged messages never arrived");

        File.Delete(filler);
        var took = await UntilAcceptedAsync(again, "after-room", TimeSpan.FromSeconds(30));
        output.WriteLine($"{acked.Count} held at start; accepted again {took.TotalMilliseconds:0} ms after the filler was deleted");
        var after = await QueueReader.ReadAsync(broker.Node.AmqpUri, FullDiskBroker.Queue, 1, TimeSpan.FromSeconds(60));
        Assert.Contains("after-room", after.Select(m => m.Body));
        Assert.DoesNotContain("refused-while-full", received.Concat(after).Select(m => m.Body));

        await gateway.StopAsync();
        Assert.Equal(0, gateway.ExitCode);
        Assert.DoesNotContain(gateway.Output.Split('\n'), l => l.Contains("crit:") || l.Contains("Unhandled exception"));
    }

    private sealed class Finally(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    /// <summary>Writes a file until the file system has no room left.</summary>
    private static void FillTheRest(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        var block = new byte[64 << 10];
        try
        {
            while (true) file.Write(block);
        }
        catch (IOException)
        {
            // no space left: done
        }
        try
        {
            while (true) file.Write(block, 0, 1);
        }
        catch (IOException)
        {
            // not a byte more
        }
    }
}

/// <summary>A test that mounts a file system: skipped, saying why, where it does not run as root (mount would be refused).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!IsRoot) Skip = "mounts a small tmpfs, which needs root: run the tests as root (as CI does) to include it";
    }

    public static bool IsRoot => geteuid() == 0;

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}
