namespace Gateway.TestUtilities;

/// <summary>
/// Patterns of the error lines tests provoke on purpose, for <see cref="GatewayProcess.ExpectErrors"/>:
/// one place to change when a message or an event id changes.
/// </summary>
public static class GatewayErrors
{
    /// <summary>A group commit failed (its acks are refused); the cause follows, e.g. "No space left on device".</summary>
    public const string CommitFailed = @"fail: Gateway\.Storage\.LiteDb\.LiteDbOutbox\[301\] Outbox commit of \d+ operations failed, their acks are refused: ";

    /// <summary>The outbox met a full disk outside a group commit (a checkpoint, a sweep) and refuses new messages until there is room.</summary>
    public const string DiskFull = @"fail: Gateway\.Storage\.LiteDb\.LiteDbOutbox\[319\] Outbox: no room on the disk for ";

    /// <summary>The store could not be opened, was moved aside and replaced by an empty one.</summary>
    public const string StoreMovedAside = @"crit: Gateway\.Storage\.LiteDb\.LiteDbOutbox\[304\] Outbox .* could not be opened .*; moved aside to ";
}
