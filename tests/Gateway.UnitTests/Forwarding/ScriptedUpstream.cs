using Gateway.Core.Forwarding;

namespace Gateway.UnitTests.Forwarding;

/// <summary>An upstream whose behaviour is scripted per connect and per batch.</summary>
internal sealed class ScriptedUpstream : IUpstreamConnector
{
    private int _batches;

    public HashSet<int> FailBatchNumbers { get; init; } = [];
    public HashSet<int> HangBatchNumbers { get; init; } = [];

    /// <summary>Batches the broker blocks (as on a memory alarm): the link says so and confirms nothing until its <c>Flow</c> is unblocked.</summary>
    public HashSet<int> BlockedBatchNumbers { get; init; } = [];
    public int RefuseConnects { get; set; }

    /// <summary>A pause before each message's confirm: a broker that is slow but still confirming.</summary>
    public TimeSpan ConfirmEach { get; init; }

    /// <summary>How many links (the first ones) never complete their close, as with a frozen broker that answers nothing.</summary>
    public int HangingCloses { get; set; }

    public List<int> ConnectAttempts { get; } = [];
    public List<(long FirstSequence, bool Failed)> Attempts { get; } = [];
    public List<Delivery> Confirmed { get; } = [];
    public List<Link> Links { get; } = [];

    public string Name => "up";
    public IReadOnlyList<string> Endpoints { get; } = ["amqp://primary/", "amqp://standby/"];

    public Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken)
    {
        lock (ConnectAttempts) ConnectAttempts.Add(endpointIndex);
        if (RefuseConnects-- > 0) throw new IOException("connection refused");
        var link = new Link(this, hangsOnClose: HangingCloses-- > 0);
        lock (Links) Links.Add(link);
        return Task.FromResult<IUpstreamLink>(link);
    }

    public sealed class Link(ScriptedUpstream owner, bool hangsOnClose) : IUpstreamLink
    {
        private readonly CancellationTokenSource _lost = new();

        public CancellationToken Lost => _lost.Token;
        public string? LostBecause { get; private set; }
        public LinkFlow Flow { get; } = new();

        /// <summary>The broker went away: what heartbeats or a close by the broker report.</summary>
        public void Lose(string because)
        {
            LostBecause = because;
            _lost.Cancel();
        }

        public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, Action progressed, CancellationToken cancellationToken)
        {
            var number = ++owner._batches;
            var failed = owner.FailBatchNumbers.Contains(number);
            owner.Attempts.Add((batch[0].Stored.Sequence, failed));
            if (owner.HangBatchNumbers.Contains(number)) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (owner.BlockedBatchNumbers.Contains(number)) await BlockedAsync(cancellationToken);
            if (failed) throw new InvalidOperationException($"batch {number} nacked");
            foreach (var delivery in batch)
            {
                if (owner.ConfirmEach > TimeSpan.Zero) await Task.Delay(owner.ConfirmEach, cancellationToken);
                progressed();
            }
            owner.Confirmed.AddRange(batch);
        }

        private async Task BlockedAsync(CancellationToken cancellationToken)
        {
            var flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Flow.Block("low on memory");
            using (Flow.Watch(blockedBecause => { if (blockedBecause is null) flowing.TrySetResult(); }))
                await flowing.Task.WaitAsync(cancellationToken);
        }

        public ValueTask DisposeAsync() => hangsOnClose ? new ValueTask(Task.Delay(Timeout.Infinite)) : ValueTask.CompletedTask;
    }
}
