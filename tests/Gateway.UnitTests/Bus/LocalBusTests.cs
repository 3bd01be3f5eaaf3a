using System.Collections.Concurrent;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;

namespace Gateway.UnitTests.Bus;

public sealed class LocalBusTests
{
    private static LocalMessage Message(string topic, int sequence, int payloadBytes = 8)
    {
        var payload = new byte[Math.Max(payloadBytes, 4)];
        BitConverter.TryWriteBytes(payload, sequence);
        return new LocalMessage(topic, payload, null, [], "test");
    }

    private static int SequenceOf(LocalMessage message) => BitConverter.ToInt32(message.Payload.Span);

    /// <summary>What one subscriber was offered, in order; <see cref="Reached"/> completes once it has <paramref name="expected"/>.</summary>
    private sealed class Recorder(int expected)
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<int> Sequences { get; } = new();
        public Task Reached => _reached.Task.WaitAsync(TimeSpan.FromSeconds(10));

        public bool Take(LocalMessage message)
        {
            Sequences.Enqueue(SequenceOf(message));
            if (Sequences.Count == expected) _reached.TrySetResult();
            return true;
        }
    }

    /// <summary>
    /// Returns once everything posted before is offered and counted: one dispatcher offers in order, so
    /// a last message's offer comes after the counting of those before it. Its subscriber does not
    /// take it, so it adds nothing to the count.
    /// </summary>
    private static async Task FenceAsync(LocalBus bus)
    {
        var offered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var fence = bus.Subscribe("fence", _ => { offered.TrySetResult(); return false; });
        await bus.PostAsync(Message("fence", -1));
        await offered.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Posted_messages_reach_each_matching_subscriber_in_the_order_posted_and_nobody_else()
    {
        var metrics = new GatewayMetrics();
        var bus = new LocalBus(metrics);
        const int count = 5000; // far more than one dispatcher work item's batch
        var line1 = new Recorder(count / 2);
        var all = new Recorder(count);
        var other = new Recorder(1);
        // Subscribed in this order, so "sensors/#" is offered each message after "sensors/line1/#".
        using var a = bus.Subscribe("sensors/line1/#", line1.Take);
        using var b = bus.Subscribe("sensors/#", all.Take);
        using var c = bus.Subscribe("alerts/#", other.Take);

        for (var i = 0; i < count; i++) await bus.PostAsync(Message(i % 2 == 0 ? "sensors/line1/temp" : "sensors/line2/temp", i));

        await all.Reached;
        await FenceAsync(bus);
        Assert.Equal(Enumerable.Range(0, count), all.Sequences);
        Assert.Equal(Enumerable.Range(0, count).Where(i => i % 2 == 0), line1.Sequences);
        Assert.Empty(other.Sequences);
        Assert.Equal(0, bus.Queued);
        Assert.Equal(count + count / 2, metrics.Get("local_deliveries_total"));
    }

    [Fact]
    public async Task A_subscriber_gets_what_was_posted_after_it_subscribed_not_what_was_still_queued_before()
    {
        var bus = new LocalBus();
        using var held = new ManualResetEventSlim(false);
        var entered = new ManualResetEventSlim(false);
        using var holding = bus.Subscribe("hold", _ =>
        {
            entered.Set();
            held.Wait(TimeSpan.FromSeconds(30)); // the dispatcher stays here, so what follows stays queued
            return true;
        });
        var before = new Recorder(1);
        using var early = bus.Subscribe("t/#", before.Take);
        await bus.PostAsync(Message("hold", 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)));
        await bus.PostAsync(Message("t/a", 1)); // queued behind the held one, for `early` only
        await bus.PostAsync(Message("nobody/here", 2)); // matches nobody: not even queued
        Assert.Equal(1, bus.Queued);

        var after = new Recorder(1);
        using var late = bus.Subscribe("t/#", after.Take);
        await bus.PostAsync(Message("t/a", 3));
        held.Set();

        await after.Reached;
        await FenceAsync(bus);
        Assert.Equal([1, 3], before.Sequences);
        Assert.Equal([3], after.Sequences);
    }

    [Fact]
    public async Task A_post_past_the_queue_limit_waits_for_room_and_nothing_is_lost_or_reordered()
    {
        var metrics = new GatewayMetrics();
        var bus = new LocalBus(metrics);
        using var held = new ManualResetEventSlim(false);
        var entered = new ManualResetEventSlim(false);
        var received = new Recorder(LocalBus.MaxQueued + 4);
        using var subscription = bus.Subscribe("#", m =>
        {
            entered.Set();
            held.Wait(TimeSpan.FromSeconds(30)); // a subscriber stuck in its callback holds the dispatcher
            return received.Take(m);
        });

        // The first is taken by the dispatcher and held there; the queue then fills to its limit.
        await bus.PostAsync(Message("t", 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "the dispatcher never offered the first message");
        for (var i = 1; i <= LocalBus.MaxQueued; i++)
        {
            var post = bus.PostAsync(Message("t", i));
            Assert.True(post.IsCompleted, $"post {i} waited with room in the queue");
        }
        var beyond = Enumerable.Range(LocalBus.MaxQueued + 1, 3).Select(i => bus.PostAsync(Message("t", i)).AsTask()).ToList();
        // Room comes only from the dispatcher, which is held: nothing to wait for before looking.
        Assert.All(beyond, p => Assert.False(p.IsCompleted, "a post past the limit did not wait for room"));
        Assert.Equal(3, metrics.Get("local_bus_full_waits_total"));
        Assert.Contains($"gateway_local_bus_queued {LocalBus.MaxQueued + 3}", metrics.ToPrometheusText().Split('\n'));

        held.Set();
        await Task.WhenAll(beyond).WaitAsync(TimeSpan.FromSeconds(10));
        await received.Reached;
        Assert.Equal(Enumerable.Range(0, LocalBus.MaxQueued + 4), received.Sequences);
    }

    [Fact]
    public async Task The_queue_is_bounded_by_payload_bytes_too_and_a_message_bigger_than_the_bound_still_passes_alone()
    {
        var bus = new LocalBus();
        using var held = new ManualResetEventSlim(false);
        var entered = new ManualResetEventSlim(false);
        var received = new Recorder(11);
        using var subscription = bus.Subscribe("#", m =>
        {
            entered.Set();
            held.Wait(TimeSpan.FromSeconds(30));
            return received.Take(m);
        });
        const int mib = 1 << 20;
        await bus.PostAsync(Message("t", 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10)));

        // Eight 1 MiB messages fill the 8 MiB bound; the ninth waits.
        for (var i = 1; i <= LocalBus.MaxQueuedBytes / mib; i++) Assert.True(bus.PostAsync(Message("t", i, mib)).IsCompleted, $"post {i} waited");
        var ninth = bus.PostAsync(Message("t", 9, mib)).AsTask();
        // Bigger than the whole bound: it waits for an empty queue, then passes alone.
        var huge = bus.PostAsync(Message("t", 10, (int)LocalBus.MaxQueuedBytes + 1)).AsTask();
        Assert.False(ninth.IsCompleted);
        Assert.False(huge.IsCompleted);

        held.Set();
        await Task.WhenAll(ninth, huge).WaitAsync(TimeSpan.FromSeconds(10));
        await received.Reached;
        Assert.Equal(Enumerable.Range(0, 11), received.Sequences);
    }

    [Fact]
    public async Task A_subscriber_that_throws_is_counted_and_the_others_still_get_the_message()
    {
        var metrics = new GatewayMetrics();
        var bus = new LocalBus(metrics);
        var received = new Recorder(2);
        using var broken = bus.Subscribe("a/#", _ => throw new InvalidOperationException("the session is closing"));
        using var working = bus.Subscribe("a/#", received.Take);

        await bus.PostAsync(Message("a/b", 1));
        await bus.PostAsync(Message("a/b", 2));

        await received.Reached;
        await FenceAsync(bus);
        Assert.Equal([1, 2], received.Sequences);
        Assert.Equal(2, metrics.Get("local_delivery_failures_total"));
        Assert.Equal(2, metrics.Get("local_deliveries_total"));
    }
}
