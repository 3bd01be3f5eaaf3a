using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Browser;

/// <summary>
/// The status dashboard in headless Chromium (tests/browser/dashboard.mjs) against the real gateway
/// and a RabbitMQ node of its own, which the test stops and starts while the page is open and MQTT
/// traffic runs. Screenshots: tests/browser/out/dashboard-*.png.
/// </summary>
[Trait("Category", "Slow")] // Chromium, a private node stopped and started
public sealed class DashboardBrowserTests(DashboardBrowserTests.OwnNode node, ITestOutputHelper output)
    : IClassFixture<DashboardBrowserTests.OwnNode>
{
    [Fact]
    public async Task The_dashboard_follows_an_upstream_going_down_and_back_with_traffic_running_and_says_when_it_lost_the_gateway()
    {
        const string prefix = "dash";
        await node.Node.DeclareQueueBoundAsync(prefix + "-q", "amq.topic", $"{prefix}.#");
        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("cloud", node.Node.AmqpUri)
            .Set("Gateway__Upstreams__cloud__ReconnectMaxDelay", "00:00:01") // back soon after the node is
            .Route($"{prefix}/#", "cloud").Build());
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dash-device");
        using var stopTraffic = new CancellationTokenSource();
        var traffic = PublishUntilAsync(device, $"{prefix}/dev/temp", stopTraffic.Token);

        var environment = new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
            ["DASHBOARD_WAIT_MS"] = ((int)Patience.Failover.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var result = await NodeDialogue.RunAsync("dashboard.mjs", environment, async step =>
        {
            switch (step)
            {
                case "stop-upstream":
                    await node.Node.StopAsync();
                    break;
                case "start-upstream":
                    await node.Node.StartAgainAsync();
                    break;
                case "stop-gateway":
                    await stopTraffic.CancelAsync();
                    var published = await traffic;
                    output.WriteLine($"{published} messages published during the test");
                    await gateway.StopAsync();
                    break;
                default:
                    throw new InvalidOperationException($"the script asked for an unknown step '{step}'");
            }
        }, Patience.Failover * 3);
        output.WriteLine(result.Output);

        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{gateway.Output}");
        Assert.All(["connected", "phone", "upstream-down", "recovered", "lost"], name =>
            Assert.True(File.Exists(Path.Combine(result.Line("SCREENSHOTS"), $"dashboard-{name}.png")), $"no screenshot {name}"));
    }

    /// <summary>QoS 1 publishes at about 50 a second until cancelled; the count published.</summary>
    private static async Task<int> PublishUntilAsync(MqttTestClient device, string topic, CancellationToken stop)
    {
        var published = 0;
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20)); // pacing the load, not waiting for an outcome
        try
        {
            while (await pace.WaitForNextTickAsync(stop))
            {
                await device.PublishAsync(topic, $"reading {published}");
                published++;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return published;
    }

    /// <summary>A node of its own: it is stopped and started, which must not reach other tests.</summary>
    public sealed class OwnNode : IAsyncLifetime
    {
        public RabbitMqNode Node { get; private set; } = null!;

        public async Task InitializeAsync() => Node = await RabbitMqNode.StartAsync();

        public async Task DisposeAsync() => await Node.DisposeAsync();
    }
}
