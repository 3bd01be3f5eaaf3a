using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Gateway.Bench;

/// <summary>Drains a RabbitMQ queue and times it: when the first message came, how fast the rest followed.</summary>
internal static class Consume
{
    /// <summary>Declares a durable queue bound to an exchange (and purges it when asked): the side-by-side script's set-up.</summary>
    public static async Task<int> QueueAsync(Options o)
    {
        var uri = o.Required("uri");
        var queue = o.Required("queue");
        var exchange = o.Text("exchange", "amq.topic");
        var key = o.Text("binding-key", "bench.#");
        var purge = o.Text("purge", "no") == "yes";
        o.RejectUnknown();
        await using var connection = await new ConnectionFactory { Uri = new Uri(uri) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, exchange, key);
        if (purge) Report.Progress($"queue {queue}: purged {await channel.QueuePurgeAsync(queue)} messages");
        return 0;
    }

    public static async Task<int> RunAsync(Options o)
    {
        var uri = o.Required("uri");
        var queue = o.Required("queue");
        var expect = o.Int("expect", 0);
        var timeout = TimeSpan.FromSeconds(o.Seconds("timeout", 600));
        var label = o.Text("label", "consume");
        o.RejectUnknown();

        await using var connection = await new ConnectionFactory { Uri = new Uri(uri) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.BasicQosAsync(0, 2000, false);
        long received = 0, firstMs = 0, lastMs = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, e) =>
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (Interlocked.Increment(ref received) == 1) firstMs = now;
            lastMs = now;
            await channel.BasicAckAsync(e.DeliveryTag, multiple: true);
            if (expect > 0 && Interlocked.Read(ref received) >= expect) done.TrySetResult();
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
        Console.WriteLine("READY");
        var clock = Stopwatch.StartNew();
        using var progress = new Timer(_ => Report.Progress($"{label}: {Interlocked.Read(ref received)} of {expect}"), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        await Task.WhenAny(done.Task, Task.Delay(timeout));
        var seconds = (lastMs - firstMs) / 1000.0;
        Report.Result(label, ("received", received), ("expected", expect), ("first_arrival_epoch_ms", firstMs), ("last_arrival_epoch_ms", lastMs),
            ("msgs_per_s", seconds > 0 ? received / seconds : double.NaN));
        return expect > 0 && received < expect ? 3 : 0;
    }
}
