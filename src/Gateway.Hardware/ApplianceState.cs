namespace Gateway.Hardware;

/// <summary>What the front panel shows, read from the gateway a few times a second.</summary>
/// <param name="UpstreamsConfigured">Upstreams in the configuration; 0 turns the link LED off.</param>
/// <param name="UpstreamsConnected">Upstreams connected and not held back by the broker (RabbitMQ's connection.blocked).</param>
/// <param name="BacklogMessages">Messages stored and not yet confirmed by every upstream they go to.</param>
/// <param name="QuotaShare">The store's use against its quota, 0 to 1 (the larger of messages and bytes).</param>
/// <param name="OldestWaiting">Age of the oldest waiting message; null when none waits.</param>
/// <param name="StoreRefusing">The store refuses new messages now: its writer failed or the disk is full.</param>
/// <param name="DiskGuardActive">Free space is under the watermark.</param>
/// <param name="StoreWriteFailures">Commits that failed since the start (a counter).</param>
/// <param name="CorruptMovedAside">Damaged chunks or files moved aside since the start (a counter).</param>
/// <param name="AuthFailures">Failed logins since the start (a counter).</param>
public sealed record ApplianceState(
    int UpstreamsConfigured,
    int UpstreamsConnected,
    long BacklogMessages,
    double QuotaShare,
    TimeSpan? OldestWaiting,
    bool StoreRefusing,
    bool DiskGuardActive,
    long StoreWriteFailures,
    long CorruptMovedAside,
    long AuthFailures);

/// <summary>The gateway as the front panel sees it and what the button may ask of it.</summary>
public interface IAppliance
{
    ApplianceState Read();

    /// <summary>Every upstream reconnects now, skipping what is left of its backoff (the button's long press).</summary>
    void ReconnectNow();
}
