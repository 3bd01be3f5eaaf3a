using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>
/// The age of the oldest message some upstream has not confirmed yet (with no upstream, of the
/// oldest stored), for <c>$SYS</c> and the front panel's backlog LED.
/// </summary>
/// <remarks>
/// The store is read again only when the oldest cursor has moved, fewer messages are stored than at
/// the last look (some expired or were dropped) or <see cref="Recheck"/> has passed: a backlog
/// waiting for an upstream that is down costs a read a minute, not one per caller's tick.
/// </remarks>
internal sealed class OldestWaiting(LiteDbOutbox outbox, ForwardingService forwarding)
{
    /// <summary>How long the oldest stored message found is trusted without a new look, at most.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private Found? _found;

    /// <summary>How long the oldest waiting message has waited; null when none waits.</summary>
    public TimeSpan? Age()
    {
        var count = outbox.Count;
        if (count == 0) return null;
        var from = forwarding.Forwarders.Count == 0 ? 0 : forwarding.Forwarders.Min(f => f.Position);
        var now = DateTimeOffset.UtcNow;
        lock (_lock)
        {
            if (_found is not { } found || found.After != from || count < found.Count || now - found.ReadAt > Recheck)
            {
                var read = outbox.ReadAfter(from, maxCount: 1, maxBytes: 1);
                if (read.Count == 0) return null;
                _found = found = new Found(from, count, now, read[0].Message.ReceivedAt);
            }
            var age = now - found.ReceivedAt;
            return age > TimeSpan.Zero ? age : TimeSpan.Zero;
        }
    }

    private readonly record struct Found(long After, long Count, DateTimeOffset ReadAt, DateTimeOffset ReceivedAt);
}
