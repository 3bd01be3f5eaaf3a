using Gateway.Core.Forwarding;

namespace Gateway.UnitTests.Forwarding;

/// <summary>An upstream whose behaviour is scripted per connect and per batch.</summary>
internal sealed class ScriptedUpstream : IUpstreamConnector
{
    private int _batches;

    public HashSet<int> FailBatchNumbers { get; init; } = [];
    public HashSet<int> HangBatchNumbers { get; init; } = [];
    public int RefuseConnects { get; set; }
    public List<int> ConnectAttempts { get; } = [];
    public List<(long FirstSequence, bool Failed)> Attempts { get; } = [];
    public List<Delivery> Confirmed { get; } = [];

    public string Name => "up";
    public IReadOnlyList<string> Endpoints { get; } = ["amqp://primary/", "amqp://standby/"];

    public Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken)
    {
        ConnectAttempts.Add(endpointIndex);
        if (RefuseConnects-- > 0) throw new IOException("connection refused");
        return Task.FromResult<IUpstreamLink>(new Link(this));
    }

    private sealed class Link(ScriptedUpstream owner) : IUpstreamLink
    {
        public async Task SendBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken)
        {
            var number = ++owner._batches;
            var failed = owner.FailBatchNumbers.Contains(number);
            owner.Attempts.Add((batch[0].Stored.Sequence, failed));
            if (owner.HangBatchNumbers.Contains(number)) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (failed) throw new InvalidOperationException($"batch {number} nacked");
            owner.Confirmed.AddRange(batch);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
