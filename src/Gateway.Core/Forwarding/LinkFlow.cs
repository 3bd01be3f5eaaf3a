namespace Gateway.Core.Forwarding;

/// <summary>
/// A broker's flow control as one link sees it: blocked, with the broker's reason, or flowing.
/// RabbitMQ blocks publishers on a memory or disk alarm (<c>connection.blocked</c>) and unblocks them
/// once the alarm clears; meanwhile the link is alive and confirms nothing, which is not a stall.
/// </summary>
public sealed class LinkFlow
{
    private readonly Lock _gate = new();
    private readonly List<Action<string?>> _watchers = [];
    private string? _blockedBecause;

    /// <summary>The broker's reason while it holds publishes back; null while they flow.</summary>
    public string? BlockedBecause
    {
        get { lock (_gate) return _blockedBecause; }
    }

    /// <summary>The broker stopped taking publishes. Repeats while blocked change nothing.</summary>
    public void Block(string because) => Change(because.Length == 0 ? "no reason given" : because);

    /// <summary>The broker takes publishes again.</summary>
    public void Unblock() => Change(null);

    /// <summary>
    /// Calls <paramref name="changed"/> with the reason on each block and with null on each unblock,
    /// at once if already blocked; changes arrive one at a time, in order. Dispose to stop watching.
    /// </summary>
    public IDisposable Watch(Action<string?> changed)
    {
        lock (_gate)
        {
            _watchers.Add(changed);
            if (_blockedBecause is not null) changed(_blockedBecause);
        }
        return new Unwatch(this, changed);
    }

    private void Change(string? blockedBecause)
    {
        // Under the lock so that a watcher never sees an unblock overtake its block.
        lock (_gate)
        {
            if ((_blockedBecause is null) == (blockedBecause is null)) return;
            _blockedBecause = blockedBecause;
            foreach (var watcher in _watchers) watcher(blockedBecause);
        }
    }

    private sealed class Unwatch(LinkFlow flow, Action<string?> changed) : IDisposable
    {
        public void Dispose()
        {
            lock (flow._gate) flow._watchers.Remove(changed);
        }
    }
}
