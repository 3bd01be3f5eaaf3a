using System.Buffers.Binary;
using System.Diagnostics;
using Gateway.Bench;

namespace Gateway.Bench.Tests;

/// <summary>
/// The load tool's account of what arrived upstream: the sustained forwarding figure must count what the
/// broker forwarded while the publishers ran, not the drain after they stopped.
/// </summary>
public sealed class UpstreamConsumerTests
{
    private sealed class Recorder : UpstreamConsumer
    {
        public override Task StartAsync() => Task.CompletedTask;
        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static byte[] Payload(long id)
    {
        var payload = new byte[32];
        BinaryPrimitives.WriteInt64LittleEndian(payload, id);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), 0);
        return payload;
    }

    private static long At(double seconds) => 1 + (long)(seconds * Stopwatch.Frequency);

    [Fact]
    public async Task The_rate_while_the_load_ran_leaves_out_the_drain_after_it()
    {
        var consumer = new Recorder();
        // The first message arrives 5 s into the run (the clock's zero is not the load's start). Then 1,000
        // messages over the 10 s until the load ends (100 a second), and a backlog of 2,000 drained in 1 s after it.
        for (var i = 0; i < 1000; i++) consumer.Arrived(Payload(i), At(5 + i * 0.01));
        consumer.MarkLoadEnded(At(15));
        for (var i = 0; i < 2000; i++) consumer.Arrived(Payload(1000 + i), At(15 + i * 0.0005));

        var e2e = await consumer.WaitForAsync(Enumerable.Range(0, 3000).Select(i => (long)i).ToHashSet(), TimeSpan.FromSeconds(5));

        Assert.Equal(3000, e2e.Received);
        Assert.Equal(0, e2e.Missing);
        Assert.Equal(100, e2e.RateDuringLoad, 1);
        Assert.InRange(e2e.Rate, 272, 274); // 3,000 over 11 s: the whole run's figure, the drain included
    }

    [Fact]
    public async Task Nothing_arrived_while_the_load_ran_gives_no_rate_during_it()
    {
        var consumer = new Recorder();
        consumer.MarkLoadEnded(At(10));
        for (var i = 0; i < 10; i++) consumer.Arrived(Payload(i), At(11 + i * 0.1));

        var e2e = await consumer.WaitForAsync(Enumerable.Range(0, 10).Select(i => (long)i).ToHashSet(), TimeSpan.FromSeconds(5));

        Assert.Equal(10, e2e.Received);
        Assert.True(double.IsNaN(e2e.RateDuringLoad));
        Assert.Equal(10 / 0.9, e2e.Rate, 3);
    }
}
