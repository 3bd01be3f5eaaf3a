using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Gateway.TestUtilities.Fuzzing;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Fuzzing;

/// <summary>
/// The real gateway process fed mutated MQTT and STOMP conversations on many sockets at once, in
/// batches, while a well-behaved MQTTnet client stays connected: after each batch the gateway is
/// alive (<c>/healthz</c>), every hostile connection was closed, the client still gets its PUBACK and
/// receives what it subscribed to, and the gateway's memory stays bounded. Errors in its log fail the
/// test (<see cref="GatewayProcess"/>), unobserved task exceptions and crashes among them.
/// By hand: <c>FUZZ_SECONDS=1200 ./test.sh --filter "FullyQualifiedName~GatewayFuzzTests"</c>.
/// </summary>
[Trait("Category", "Slow")]
[Trait("Category", "Fuzz")]
public sealed class GatewayFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Sockets at once: enough to interleave hostile connections in the gateway, few enough for a 2-core machine.</summary>
    private const int BatchSize = 16;

    /// <summary>The issue's bound for the gateway under hostile load (issue 23: "RSS under 400 MB throughout").</summary>
    private const long RssBound = 400L << 20;

    private readonly GatewayProcess _gateway = new();

    public Task InitializeAsync() => _gateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Mutated_streams_are_closed_and_leave_the_gateway_and_a_well_behaved_client_unharmed()
    {
        await using var watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "fuzz-watcher", MqttProtocolVersion.V500);
        await watcher.Client.SubscribeAsync("watch/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var settings = FuzzSettings.FromEnvironment();
        var elapsed = Stopwatch.StartNew();
        var (done, peakRss, startRss) = (0, 0L, Rss());
        while (settings.KeepGoing(done, suiteIterations: 240, elapsed))
        {
            var batch = Enumerable.Range(done, BatchSize)
                .Select(i => i % 2 == 0 ? (Port: _gateway.MqttPort, Case: FuzzRunner.Make(FuzzProtocol.Mqtt, settings.Seed, i / 2))
                                        : (Port: _gateway.StompPort, Case: FuzzRunner.Make(FuzzProtocol.Stomp, settings.Seed, i / 2)))
                .ToList();
            await Task.WhenAll(batch.Select(RunOneAsync));
            done += BatchSize;
            peakRss = Math.Max(peakRss, Rss());
            Assert.True(peakRss < RssBound, $"the gateway's RSS reached {peakRss >> 20} MB after {done} hostile connections");
            try
            {
                await AssertUnharmedAsync(watcher, done);
            }
            catch (Exception ex)
            {
                // One of the batch did it; each is replayable alone (GatewayFuzzRegressionTests).
                throw new InvalidOperationException($"after a batch of hostile connections: {ex.Message}\nThe batch:\n{string.Join("\n", batch.Select(b => b.Case.Describe()))}", ex);
            }
        }
        output.WriteLine($"{done} hostile connections in {elapsed.Elapsed.TotalSeconds:0} s (FUZZ_SEED={settings.Seed}); RSS {startRss >> 20} MB at start, at most {peakRss >> 20} MB");
        Assert.True(watcher.IsConnected, "the well-behaved client was disconnected");
        Assert.DoesNotContain("Unobserved", _gateway.Output, StringComparison.OrdinalIgnoreCase);
        _gateway.AssertNoUnexpectedErrors();
    }

    private async Task RunOneAsync((int Port, FuzzCase Case) one)
    {
        try
        {
            await FuzzConnection.RunAsync(one.Port, one.Case, Patience.Reaction);
        }
        catch (Exception ex)
        {
            throw new FuzzFailureException(one.Case, ex);
        }
    }

    /// <summary>The gateway answers its health check, and the client that behaved all along publishes and receives as before.</summary>
    private async Task AssertUnharmedAsync(MqttTestClient watcher, int done)
    {
        Assert.True(_gateway.ExitCode is null, $"the gateway exited with {_gateway.ExitCode} after {done} hostile connections:\n{_gateway.Output}");
        Assert.Contains("\"status\":\"ok\"", await _gateway.GetAsync("/healthz"));
        var payload = $"after {done}";
        var result = await watcher.PublishAsync($"watch/{done}", payload);
        Assert.True(result.IsSuccess, $"the well-behaved client's publish after {done} hostile connections got {result.ReasonCode}");
        await Poll.UntilAsync(() => watcher.Received.Any(m => m.ConvertPayloadToString() == payload), Patience.Reaction,
            $"the well-behaved client to receive its own message after {done} hostile connections");
        _gateway.AssertNoUnexpectedErrors();
    }

    private long Rss()
    {
        var line = File.ReadLines($"/proc/{_gateway.ProcessId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
    }
}
