using System.Collections;
using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>Why a held will stopped waiting.</summary>
internal enum WillRelease
{
    /// <summary>No delay asked for (MQTT 3.1.1, or MQTT 5 with a Will Delay Interval or Session Expiry Interval of 0).</summary>
    AtOnce,

    /// <summary>The Will Delay Interval passed.</summary>
    DelayPassed,

    /// <summary>The session ended first: a new connection with the same id and clean start discarded it.</summary>
    SessionEnded,

    /// <summary>The gateway stops: a will is not kept across a restart, so it goes out now rather than never.</summary>
    Shutdown,

    /// <summary>The client came back to its session within the delay (MQTT-3.1.3-9): the will is not sent.</summary>
    Cancelled,
}

/// <summary>
/// MQTT 5's Will Delay Interval (section 3.1.3.2.2): a will MQTTnet publishes the moment a connection
/// ends is held here for the delay or until the session ends, whichever comes first, and dropped if the
/// client reconnects to its session meanwhile. MQTTnet has no delay of its own: it publishes at once.
/// </summary>
/// <remarks>
/// The ingest holds the will inside its publish interceptor (<see cref="Hold"/>), so once due it is
/// stored in the outbox and delivered exactly like a will without delay. At shutdown every held will is
/// due at once and stored before the listener has stopped (<see cref="DrainAsync"/>), each logged.
/// </remarks>
internal sealed partial class WillDelays(GatewayOptions options, GatewayMetrics metrics, ILogger<WillDelays> logger)
{
    private const string DelayItem = "gateway.will-delay";

    private readonly ConcurrentDictionary<string, uint> _connecting = new();
    private readonly ConcurrentDictionary<string, PendingWill> _pending = new();
    private readonly ConcurrentDictionary<PendingWill, byte> _inProgress = new();
    private volatile bool _stopping;

    /// <summary>A CONNECT about to be accepted: a will held for the same client id is decided, and the new connection's delay noted.</summary>
    public Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (string.IsNullOrEmpty(e.ClientId)) return Task.CompletedTask;
        // Refused (by the login check, registered first): a stranger using a client's id must not cancel its will.
        if (e.ReasonCode != MqttConnectReasonCode.Success) return Task.CompletedTask;
        if (_pending.TryGetValue(e.ClientId, out var pending))
        {
            // Resuming the session cancels the will (MQTT-3.1.3-9); clean start discards the session, which
            // ends the wait (section 3.1.2.5: the delay or the end of the session, whichever first).
            pending.Release(e.CleanSession == true ? WillRelease.SessionEnded : WillRelease.Cancelled);
        }
        var delay = DelayOf(e);
        if (delay > 0) _connecting[e.ClientId] = delay;
        else _connecting.TryRemove(e.ClientId, out _);
        return Task.CompletedTask;
    }

    /// <summary>Keeps the connection's delay with its session, where its will (which carries the session's items) finds it.</summary>
    public Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        if (_connecting.TryRemove(e.ClientId, out var delay)) e.SessionItems[DelayItem] = delay;
        else e.SessionItems.Remove(DelayItem);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A will MQTTnet is publishing, held for its connection's delay. Call <see cref="PendingWill.Finish"/>
    /// once it is stored (or dropped), so a shutdown waits for it.
    /// </summary>
    public PendingWill Hold(string clientId, IDictionary sessionItems)
    {
        var delay = sessionItems[DelayItem] is uint seconds ? seconds : 0u;
        var will = new PendingWill(this, clientId, delay);
        _inProgress[will] = 0;
        if (delay == 0)
        {
            will.Release(WillRelease.AtOnce);
            return will;
        }
        if (_stopping)
        {
            will.Release(WillRelease.Shutdown);
            return will;
        }
        will.Start();
        if (_pending.TryRemove(clientId, out var earlier)) earlier.Release(WillRelease.SessionEnded);
        _pending[clientId] = will;
        metrics.Increment("mqtt_wills_delayed_total");
        LogDelayed(clientId, delay);
        if (_stopping) will.Release(WillRelease.Shutdown); // the shutdown began while it was being registered
        return will;
    }

    /// <summary>The gateway stops: every held will is due now, and so is any will that comes after.</summary>
    public void ReleaseAllAtShutdown()
    {
        _stopping = true;
        foreach (var will in _pending.Values) will.Release(WillRelease.Shutdown);
    }

    /// <summary>Waits until every will released so far is stored (or refused, which the ingest logs).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_inProgress.Keys.Select(w => w.Finished)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            LogNotDrained(_inProgress.Count);
        }
    }

    internal void OnReleased(PendingWill will, WillRelease reason)
    {
        _pending.TryRemove(KeyValuePair.Create(will.ClientId, will));
        switch (reason)
        {
            case WillRelease.Cancelled:
                metrics.Increment("mqtt_wills_cancelled_total");
                LogCancelled(will.ClientId);
                break;
            case WillRelease.Shutdown:
                LogPublishedAtShutdown(will.ClientId, (long)Math.Ceiling(will.Left.TotalSeconds));
                break;
            case WillRelease.DelayPassed or WillRelease.SessionEnded:
                LogDue(will.ClientId, reason);
                break;
        }
    }

    internal void OnFinished(PendingWill will) => _inProgress.TryRemove(will, out _);

    /// <summary>MQTT 5 only; without a session that outlives the connection the session ends with it, and so does the wait.</summary>
    private uint DelayOf(ValidatingConnectionEventArgs e)
    {
        if (e.ProtocolVersion != MqttProtocolVersion.V500) return 0;
        var sessionExpiry = options.Mqtt.PersistentSessions ? e.SessionExpiryInterval : 0;
        return Math.Min(e.WillDelayInterval, sessionExpiry);
    }

    [LoggerMessage(EventIds.MqttWillDelayed, LogLevel.Information, "Will of MQTT client {ClientId} held for its will delay of {Seconds} s")]
    private partial void LogDelayed(string clientId, uint seconds);

    [LoggerMessage(EventIds.MqttWillCancelled, LogLevel.Information,
        "Will of MQTT client {ClientId} cancelled: the client reconnected to its session within the will delay (MQTT-3.1.3-9)")]
    private partial void LogCancelled(string clientId);

    [LoggerMessage(EventIds.MqttWillDue, LogLevel.Information, "Will of MQTT client {ClientId} published: {Reason}")]
    private partial void LogDue(string clientId, WillRelease reason);

    [LoggerMessage(EventIds.MqttWillPublishedAtShutdown, LogLevel.Warning,
        "Will of MQTT client {ClientId} published at shutdown with {Seconds} s of its will delay left: a held will is not kept across a restart")]
    private partial void LogPublishedAtShutdown(string clientId, long seconds);

    [LoggerMessage(EventIds.MqttWillsNotStored, LogLevel.Error, "{Count} MQTT wills were still being stored when the shutdown timed out")]
    private partial void LogNotDrained(int count);
}

/// <summary>One will between MQTTnet's publish of it and its storing: held, then due or cancelled.</summary>
internal sealed class PendingWill(WillDelays owner, string clientId, uint delaySeconds)
{
    /// <summary>The longest a .NET timer waits in one go; a longer delay re-arms it.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromDays(24);

    private readonly TaskCompletionSource<WillRelease> _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTime _due = DateTime.UtcNow.AddSeconds(delaySeconds);
    private Timer? _timer;

    public string ClientId => clientId;

    public Task Finished => _finished.Task;

    public TimeSpan Left => _due - DateTime.UtcNow;

    /// <summary>Whether to publish it: false once a reconnect cancelled it.</summary>
    public async Task<bool> IsDueAsync() => await _release.Task.ConfigureAwait(false) != WillRelease.Cancelled;

    public void Start() => _timer = new Timer(static state => ((PendingWill)state!).OnTimer(), this, Wait(Left), Timeout.InfiniteTimeSpan);

    public void Release(WillRelease reason)
    {
        if (!_release.TrySetResult(reason)) return;
        _timer?.Dispose();
        owner.OnReleased(this, reason);
    }

    public void Finish()
    {
        owner.OnFinished(this);
        _finished.TrySetResult();
    }

    private void OnTimer()
    {
        var left = Left;
        if (left <= TimeSpan.Zero)
        {
            Release(WillRelease.DelayPassed);
            return;
        }
        try
        {
            _timer?.Change(Wait(left), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Released meanwhile.
        }
    }

    private static TimeSpan Wait(TimeSpan left) => left < LongestWait ? left : LongestWait;
}
