using System.Diagnostics;
using System.Text;
using Gateway.Stomp;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Browser;

/// <summary>Many dashboards at once: every subscriber gets every message, and one that stops reading is cut off without slowing the rest.</summary>
[Trait("Category", "Slow")] // a load
public sealed class StompLoadTests(ITestOutputHelper output)
{
    private const int Subscribers = 1000;
    private const int Rate = 100; // messages per second
    private const int Messages = 1500; // 15 s of the stream
    private const int PayloadBytes = 512;
    private const int MaxInFlight = 16; // the publisher's QoS 1 publishes awaiting their acks at once

    private static async Task<TimeSpan> PublishTimedAsync(MqttTestClient publisher, string payload)
    {
        var sent = Stopwatch.StartNew();
        var result = await publisher.PublishAsync("load/stream", payload, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(result.IsSuccess, $"a publish was refused: {result.ReasonCode}");
        return sent.Elapsed;
    }

    [Fact]
    public async Task A_thousand_WebSocket_subscribers_each_receive_every_message_of_a_100_per_second_stream_and_a_stalled_one_is_disconnected()
    {
        await using var gateway = new GatewayProcess(new GatewaySettings().Set("Gateway__Stomp__MaxPendingMessages", "200").Build());
        await gateway.StartAsync();

        var connecting = Stopwatch.StartNew();
        var subscribers = new List<WebSocketStompClient>();
        foreach (var batch in Enumerable.Range(0, Subscribers).Chunk(50))
            subscribers.AddRange(await Task.WhenAll(batch.Select(_ => WebSocketStompClient.ConnectAsync(gateway.HttpPort, "/topic/load.stream"))));
        foreach (var subscriber in subscribers) subscriber.StartReading();
        // The stalled one: subscribed, then never reads again, with a small socket buffer so the stall shows soon.
        await using var stalled = await WebSocketStompClient.ConnectAsync(gateway.HttpPort, "/topic/load.stream", receiveBuffer: 4096);
        output.WriteLine($"{Subscribers + 1} subscribers connected in {connecting.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(Subscribers + 1, await gateway.MetricAsync("stomp_connections_open"));

        await using var publisher = await MqttTestClient.ConnectAsync(gateway.MqttPort, "stream");
        // A device streaming at 100/s that keeps publishing while acks are on their way (up to 16 in
        // flight), as one that waited for each ack would measure its own process's load as much as
        // the gateway: this process also runs the thousand subscribers, on the same 2 cores.
        var publishing = Stopwatch.StartNew();
        var inFlight = new Queue<Task<TimeSpan>>();
        var ackLatencies = new List<TimeSpan>(Messages);
        try
        {
            for (var i = 0; i < Messages; i++)
            {
                // On a schedule (message i is due at i/Rate s), catching up when late rather than drifting.
                var due = TimeSpan.FromSeconds(i / (double)Rate) - publishing.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due);
                if (inFlight.Count == MaxInFlight) ackLatencies.Add(await inFlight.Dequeue());
                inFlight.Enqueue(PublishTimedAsync(publisher, $"{i}:{Stopwatch.GetTimestamp()}:".PadRight(PayloadBytes, 'x')));
            }
            while (inFlight.Count > 0) ackLatencies.Add(await inFlight.Dequeue());
        }
        finally
        {
            // After a failure, the publishes still in flight fail with the connection: observed, not left to the finalizer.
            foreach (var pending in inFlight) _ = pending.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }
        var published = publishing.Elapsed;
        ackLatencies.Sort();
        output.WriteLine($"published and acknowledged {Messages} in {published.TotalSeconds:0.0} s; PUBACK p50 {ackLatencies[Messages / 2].TotalMilliseconds:0.0} ms, " +
            $"p99 {ackLatencies[Messages * 99 / 100].TotalMilliseconds:0.0} ms, slowest {ackLatencies[^1].TotalMilliseconds:0} ms");

        await Poll.UntilAsync(() => subscribers.All(s => s.Count >= Messages || s.Error is not null), TimeSpan.FromSeconds(60),
            "every subscriber to receive the whole stream");

        // Everyone got everything, in order, once.
        var expected = Enumerable.Range(0, Messages).Select(i => (long)i).ToList();
        foreach (var subscriber in subscribers)
        {
            Assert.Null(subscriber.Error);
            lock (subscriber.Sequences) Assert.Equal(expected, subscriber.Sequences);
        }

        // The stalled one was cut off with the reason, and nobody else was.
        Assert.Equal(1, await gateway.MetricAsync("stomp_disconnects_total", "SlowConsumer"));
        Assert.Equal(Subscribers, await gateway.MetricAsync("stomp_connections_open"));
        Assert.Contains(gateway.Output.Split('\n'), l => l.Contains("disconnected (SlowConsumer)") && l.Contains("slow consumer: "));
        // The stalled client is gone: it finds the connection closed (or reset, when the ERROR could not
        // even be written to it) once it reads what its socket still holds.
        var gone = Task.Run(async () =>
        {
            try
            {
                while (await stalled.ReadFrameAsync() is { Command: StompCommand.Message }) { }
            }
            catch (System.Net.WebSockets.WebSocketException)
            {
                // reset
            }
        });
        await gone.WaitAsync(TimeSpan.FromSeconds(30));

        // Nobody was held up: the stream kept its rate, and delivery kept up with it.
        var lags = subscribers.SelectMany(s => s.Lags).Order().ToArray();
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        output.WriteLine($"delivery lag over {lags.Length} deliveries: p50 {Ms(lags[lags.Length / 2]):0.0} ms, p99 {Ms(lags[(int)(lags.Length * 0.99)]):0.0} ms, max {Ms(lags[^1]):0.0} ms");
        Assert.True(published < TimeSpan.FromSeconds(Messages / (double)Rate * 1.5), $"publishing {Messages} at {Rate}/s and their acks took {published.TotalSeconds:0.0} s: ingest was slowed");
        Assert.True(Ms(lags[(int)(lags.Length * 0.99)]) < 2000, "the 99th percentile delivery lag passed 2 s: subscribers were slowed");

        await Task.WhenAll(subscribers.Select(s => s.DisposeAsync().AsTask()));
    }
}
