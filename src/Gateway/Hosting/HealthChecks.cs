using Gateway.Configuration;
using Gateway.Core.Forwarding;
using Gateway.Mqtt;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>
/// A listener's liveness for <c>/healthz</c> and <c>/readyz</c>: each listener adds one (a singleton of
/// this type) with a check cheap enough to run on every probe (flags, no I/O).
/// </summary>
public sealed record ListenerProbe(string Name, Func<bool> Alive);

/// <summary>What the probes look at, read in one go; the verdicts are in <see cref="HealthVerdict"/>.</summary>
internal sealed record HealthFacts(
    string? WriterFault,
    string? ForwarderFault,
    IReadOnlyList<ListenerHealth> Listeners,
    bool StoreOpen,
    bool DiskGuardActive,
    string? DiskFullCause,
    bool AtQuota);

/// <summary>Gathers <see cref="HealthFacts"/> and the reports from the running parts.</summary>
internal sealed class HealthChecks(
    LiteDbOutbox store,
    ForwardingService forwarding,
    IEnumerable<ListenerProbe> listeners,
    GatewayOptions options)
{
    private readonly ListenerProbe[] _listeners = listeners.ToArray();

    public HealthFacts Facts() => new(
        WriterFault: store.Faulted.IsCompleted ? store.Faulted.Result.Message : null,
        ForwarderFault: forwarding.Fault,
        Listeners: _listeners.Select(l => new ListenerHealth(l.Name, l.Alive())).ToArray(),
        StoreOpen: store.IsOpen,
        DiskGuardActive: store.DiskGuardActive,
        DiskFullCause: store.DiskFullCause,
        AtQuota: store.AtQuota);

    public (HealthReport Report, bool Alive) Liveness()
    {
        var facts = Facts();
        var reasons = HealthVerdict.NotAlive(facts);
        var writer = facts.WriterFault is not null ? "failed" : store.DiskFull ? "disk-full" : "ok";
        return (new HealthReport(
            Status: reasons.Count == 0 ? "ok" : "failed",
            GatewayId: options.Id!,
            Outbox: new OutboxHealth(store.Count, store.LastCommittedSequence, writer),
            Upstreams: Upstreams(),
            Listeners: facts.Listeners,
            Fault: reasons.Count == 0 ? null : reasons[0],
            Reasons: reasons), reasons.Count == 0);
    }

    public (ReadinessReport Report, bool Ready) Readiness()
    {
        var facts = Facts();
        var reasons = HealthVerdict.NotReady(facts);
        return (new ReadinessReport(
            Status: reasons.Count == 0 ? "ready" : "not-ready",
            GatewayId: options.Id!,
            Reasons: reasons,
            Store: new StoreReadiness(facts.StoreOpen, Accepting: facts.WriterFault is null && !facts.DiskGuardActive && facts.DiskFullCause is null && !facts.AtQuota,
                facts.DiskGuardActive, facts.DiskFullCause is not null, facts.AtQuota, store.DiskFreeBytes, store.Count, store.Bytes),
            Listeners: facts.Listeners,
            Upstreams: Upstreams()), reasons.Count == 0);
    }

    private UpstreamHealth[] Upstreams() => forwarding.Forwarders.Select(Describe).ToArray();

    private static UpstreamHealth Describe(Forwarder f) => new(
        f.Upstream, f.IsConnected, f.BlockedBecause is not null, f.BlockedBecause, f.CurrentEndpoint, f.Position,
        DownSeconds: f.DownFor is { } down ? Math.Round(down.TotalSeconds, 1) : null,
        Backlog: f.Backlog);
}

/// <summary>The rules: what makes the gateway not alive, and what makes it not ready.</summary>
internal static class HealthVerdict
{
    /// <summary>
    /// Not alive (restart it): the store's writer or a forwarder stopped on a fault, or a listener is
    /// no longer accepting. A full disk is not a liveness failure: the gateway outlives it.
    /// </summary>
    public static IReadOnlyList<string> NotAlive(HealthFacts facts)
    {
        var reasons = new List<string>();
        if (facts.WriterFault is { } writer) reasons.Add($"the outbox's writer stopped: {writer}");
        if (facts.ForwarderFault is { } forwarder) reasons.Add(forwarder);
        foreach (var listener in facts.Listeners.Where(l => !l.Alive)) reasons.Add($"the {listener.Name} listener is not accepting connections");
        return reasons;
    }

    /// <summary>
    /// Not ready (send no clients here): not alive, or the store would refuse the next message. An
    /// upstream that is down does not count: buffering until it returns is the gateway's job.
    /// </summary>
    public static IReadOnlyList<string> NotReady(HealthFacts facts)
    {
        var reasons = NotAlive(facts).ToList();
        if (!facts.StoreOpen && facts.WriterFault is null) reasons.Add("the store is not open (reopening after a failed write)");
        if (facts.DiskGuardActive) reasons.Add("the disk is below its free-space watermark: new messages are refused");
        if (facts.DiskFullCause is { } full) reasons.Add($"the store refuses writes: {full}");
        if (facts.AtQuota) reasons.Add("the store is at its quota and rejects new messages");
        return reasons;
    }
}
