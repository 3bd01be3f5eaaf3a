using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Pipeline;

/// <summary>Power-cut the gateway (SIGKILL) again and again under load: every acknowledged message must reach the broker.</summary>
[Trait("Category", "Slow")] // repeated crashes
[Collection(PipelineCollection.Name)]
public sealed class CrashTests(PipelineFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_acknowledged_message_arrives_despite_repeated_kills_at_random_moments()
    {
        var node = fixture.Node;
        var kills = int.TryParse(Environment.GetEnvironmentVariable("GATEWAY_CRASH_KILLS"), out var k) ? k : 4;
        await node.DeclareQueueBoundAsync("crash-q", "amq.topic", "crash.#");
        var dataPath = Directory.CreateTempSubdirectory("gateway-crash-").FullName;
        try
        {
            await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", node.AmqpUri).Route("crash/#", "cloud").Build(), dataPath);
            await gateway.StartAsync();

            using var stop = new CancellationTokenSource();
            var publishers = Enumerable.Range(0, 3).Select(p => PublishThroughCrashesAsync(gateway.MqttPort, p, stop.Token)).ToArray();

            var random = new Random();
            for (var kill = 0; kill < kills; kill++)
            {
                // A random moment: publishing, committing and forwarding are all under way.
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(700, 2500)));
                await gateway.KillAsync();
                await gateway.StartAsync();
            }
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 1500)));
            stop.Cancel();
            var acked = (await Task.WhenAll(publishers)).SelectMany(a => a).ToHashSet();

            var received = await QueueReader.ReadAllOfAsync(node.AmqpUri, "crash-q", acked, TimeSpan.FromSeconds(120), quiet: TimeSpan.FromSeconds(15));
            var arrived = received.Select(m => m.Body).ToHashSet();
            var missing = acked.Except(arrived).ToList();
            output.WriteLine($"{kills} kills; {acked.Count} acknowledged; {received.Count} delivered ({received.Count - arrived.Count} replays)");

            Assert.True(missing.Count == 0, $"{missing.Count} acknowledged messages never arrived, e.g. {string.Join(", ", missing.Take(5))}; " +
                $"the gateway says {await gateway.GetAsync("/healthz")}");
            Assert.True(acked.Count > 1000, $"only {acked.Count} messages were acknowledged: the load was too light to mean much");
            // A replay carries the id of the original, so a consumer can drop it.
            Assert.All(received.GroupBy(m => m.Body), g => Assert.Single(g.Select(m => m.MessageId).Distinct()));
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
    }

    /// <summary>Publishes QoS 1 until stopped, reconnecting whenever the gateway dies; returns what was acknowledged.</summary>
    private static async Task<List<string>> PublishThroughCrashesAsync(int port, int publisher, CancellationToken stop)
    {
        var acked = new List<string>();
        var next = 0;
        while (!stop.IsCancellationRequested)
        {
            MqttTestClient? client = null;
            try
            {
                client = await MqttTestClient.ConnectAsync(port, $"crash{publisher}");
                while (!stop.IsCancellationRequested)
                {
                    var payload = $"crash{publisher}:{next++}";
                    if ((await client.PublishAsync($"crash/dev{publisher}/temp", payload)).IsSuccess) acked.Add(payload);
                }
            }
            catch (Exception)
            {
                // The gateway was killed under us: whatever was not acknowledged is the device's to resend.
                if (!stop.IsCancellationRequested) await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
            finally
            {
                if (client is not null) await client.DisposeAsync();
            }
        }
        return acked;
    }
}
