using System.Collections.Concurrent;
using System.Net;

namespace Gateway.Security;

/// <summary>
/// Failed logins per source address, and the back-off that follows: after <c>allowed</c> failures from
/// one address, every login from it (right password or not) is refused for <c>first</c>, and each
/// further failure doubles the wait up to <c>longest</c>. Shared by MQTT, STOMP and HTTP Basic, so a
/// guesser cannot switch protocol to start afresh.
/// </summary>
/// <remarks>
/// A held-back attempt is refused before any hash is computed: a guesser spends neither our CPU nor
/// its guesses. Success does not wipe the count (a guesser holding one valid account could otherwise
/// reset it between guesses); an address with no failure for <c>forget</c> is forgotten.
/// The table is bounded: past <see cref="MaxSources"/> addresses the forgotten ones are dropped, then the oldest.
/// </remarks>
public sealed class LoginThrottle(int allowed, TimeSpan first, TimeSpan longest, TimeProvider? clock = null)
{
    public const int MaxSources = 100_000;

    private readonly ConcurrentDictionary<IPAddress, Entry> _sources = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly TimeSpan _forget = longest * 2 > TimeSpan.FromMinutes(10) ? longest * 2 : TimeSpan.FromMinutes(10);

    private sealed record Entry(int Failures, DateTimeOffset LastFailure, DateTimeOffset HeldUntil);

    /// <summary>How long logins from <paramref name="source"/> are still held back; zero when they are not.</summary>
    public TimeSpan HeldBackFor(IPAddress source)
    {
        if (!_sources.TryGetValue(Normalise(source), out var entry)) return TimeSpan.Zero;
        var left = entry.HeldUntil - _clock.GetUtcNow();
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>Counts a failure from <paramref name="source"/>; returns its failures so far and how long it is now held back.</summary>
    public (int Failures, TimeSpan HeldBack) Failed(IPAddress source)
    {
        var now = _clock.GetUtcNow();
        if (_sources.Count >= MaxSources) Prune(now);
        var entry = _sources.AddOrUpdate(Normalise(source),
            _ => Next(0, now),
            (_, old) => Next(now - old.LastFailure > _forget ? 0 : old.Failures, now));
        var held = entry.HeldUntil - now;
        return (entry.Failures, held > TimeSpan.Zero ? held : TimeSpan.Zero);
    }

    private Entry Next(int failures, DateTimeOffset now)
    {
        failures++;
        if (failures < allowed) return new Entry(failures, now, now);
        var doublings = Math.Min(failures - allowed, 30);
        var wait = TimeSpan.FromTicks(Math.Min(first.Ticks * (1L << Math.Min(doublings, 20)), longest.Ticks));
        return new Entry(failures, now, now + wait);
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (address, entry) in _sources)
        {
            if (now - entry.LastFailure > _forget || now > entry.HeldUntil) _sources.TryRemove(address, out _);
        }
        if (_sources.Count < MaxSources) return;
        foreach (var (address, _) in _sources.OrderBy(s => s.Value.LastFailure).Take(_sources.Count / 10)) _sources.TryRemove(address, out _);
    }

    /// <summary>An IPv4 client reached over an IPv6 socket (<c>::ffff:a.b.c.d</c>) is the same source as over IPv4.</summary>
    public static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
