using Gateway.Core.Diagnostics;

namespace Gateway.Status;

/// <summary>A fault the dashboard lists: when it last happened, how many times in a row, what it was.</summary>
/// <param name="Kind">"stall", "link-failed", "blocked", "refusal", "corrupt", "disk-full", "store-failure" or "forwarder-died".</param>
/// <param name="Repeats">How many times the same event with the same text came in a row (a burst of refusals is one entry).</param>
public sealed record FaultEntry(DateTimeOffset At, int EventId, string Level, string Kind, string Message, int Repeats);

/// <summary>The last upstream link failure: what and when.</summary>
public sealed record LinkError(string Message, DateTimeOffset At);

/// <summary>
/// The last <see cref="Capacity"/> faults, newest first, and each upstream's last link error; fed by
/// <see cref="FaultLoggerProvider"/> from the warnings and errors the gateway logs anyway, so the
/// parts that detect faults need no second channel.
/// </summary>
public sealed class FaultLog(TimeProvider time)
{
    public const int Capacity = 50;

    /// <summary>The events kept, and under which kind; every other event is not a fault to list.</summary>
    private static readonly Dictionary<int, string> Kinds = new()
    {
        [EventIds.UpstreamFailed] = "link-failed",
        [EventIds.UpstreamCloseAbandoned] = "link-failed",
        [EventIds.UpstreamBlocked] = "blocked",
        [EventIds.ForwarderDied] = "forwarder-died",
        [EventIds.PublishRefused] = "refusal",
        [EventIds.MqttPacketRefused] = "refusal",
        [EventIds.StompSendRefused] = "refusal",
        [EventIds.OutboxCorrupt] = "corrupt",
        [EventIds.OutboxCorruptChunk] = "corrupt",
        [EventIds.OutboxDiskFull] = "disk-full",
        [EventIds.OutboxCommitFailed] = "store-failure",
        [EventIds.OutboxWriterFailed] = "store-failure",
    };

    private readonly LinkedList<FaultEntry> _entries = new();
    private readonly Dictionary<string, LinkError> _linkErrors = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public static bool Keeps(int eventId) => Kinds.ContainsKey(eventId);

    /// <summary>Records an event if it is one of the kept ones.</summary>
    /// <param name="upstream">The upstream the event names, if any (its last link error is kept).</param>
    public void Record(int eventId, string level, string message, string? upstream)
    {
        if (!Kinds.TryGetValue(eventId, out var kind)) return;
        // A stall is a link failure whose cause is the confirm timeout (Forwarder.SendWatchedAsync).
        if (eventId == EventIds.UpstreamFailed && message.Contains("no confirm", StringComparison.Ordinal)) kind = "stall";
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (upstream is not null && eventId == EventIds.UpstreamFailed) _linkErrors[upstream] = new LinkError(message, now);
            if (_entries.First?.Value is { } last && last.EventId == eventId && last.Message == message)
            {
                _entries.First.Value = last with { At = now, Repeats = last.Repeats + 1 };
                return;
            }
            _entries.AddFirst(new FaultEntry(now, eventId, level, kind, message, 1));
            if (_entries.Count > Capacity) _entries.RemoveLast();
        }
    }

    /// <summary>The faults kept, newest first.</summary>
    public FaultEntry[] Recent()
    {
        lock (_lock) return _entries.ToArray();
    }

    public LinkError? LastLinkError(string upstream)
    {
        lock (_lock) return _linkErrors.GetValueOrDefault(upstream);
    }
}
