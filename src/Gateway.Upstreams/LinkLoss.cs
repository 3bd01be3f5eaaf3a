namespace Gateway.Upstreams;

/// <summary>The <c>Lost</c> half of a link: keeps the first cause and cancels the token.</summary>
internal sealed class LinkLoss
{
    private readonly CancellationTokenSource _source = new();
    private string? _because;

    public CancellationToken Token => _source.Token;

    public string? Because => Volatile.Read(ref _because);

    public void Report(string because)
    {
        if (Interlocked.CompareExchange(ref _because, because, null) is not null) return;
        // Off the reporting thread: the forwarder answers by closing the link, which must not run
        // inside the client library's shutdown handler or the connection's own read loop.
        ThreadPool.UnsafeQueueUserWorkItem(static source => source.Cancel(), _source, preferLocal: false);
    }
}
