using System.Diagnostics;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Core.Forwarding;

/// <summary>
/// Drains the outbox to one upstream: reads in sequence order from the upstream's cursor, sends a batch
/// pipelined, waits once for all its confirms, then moves the cursor (which lets the store delete).
/// </summary>
/// <remarks>
/// Order: one batch at a time, oldest first, and a failed batch is sent again from its first message,
/// so nothing overtakes an unconfirmed message (FIFO per upstream, hence per route). Delivery is
/// at-least-once: a batch whose confirms were lost is sent again, and consumers drop replays by
/// message id. The link supervisor part walks the endpoints with backoff, drops a link as soon as it
/// reports itself lost (heartbeats, a close by the broker), and restarts a link that is connected but
/// confirms nothing for <see cref="ForwarderOptions.ConfirmTimeout"/>. Closing a failed link never
/// waits on the broker for more than <see cref="FailedCloseGrace"/>: a frozen broker must not hold
/// up failover.
/// A failure of the outbox itself is not the link's: it escapes <see cref="RunAsync"/> as an
/// <see cref="OutboxFailedException"/>, since no reconnect can mend it.
/// </remarks>
public sealed partial class Forwarder(
    IUpstreamConnector connector,
    IOutbox outbox,
    RouteTable routes,
    string gatewayId,
    ForwarderOptions options,
    GatewayMetrics metrics,
    ILogger<Forwarder> logger)
{
    /// <summary>
    /// How long closing a healthy link (at shutdown) may take before it is abandoned: a working broker
    /// answers a close in milliseconds, and this leaves room for a busy one.
    /// </summary>
    internal static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The same for a link that failed (stalled, lost, refused): its broker may be frozen and would
    /// never answer, and the next endpoint waits until the old link is gone. The close goes on in
    /// the background and ends when the client library gives up on the socket.
    /// </summary>
    internal static readonly TimeSpan FailedCloseGrace = TimeSpan.FromSeconds(1);

    private int _endpointIndex;
    private volatile bool _connected;

    /// <summary>Cancelled by <see cref="ReconnectNow"/>: ends the backoff pause under way, if any. A new one per pause.</summary>
    private CancellationTokenSource _pause = new();

    public string Upstream => connector.Name;

    /// <summary>The endpoint currently (or last) used, for health and logs.</summary>
    public string CurrentEndpoint => connector.Endpoints[Volatile.Read(ref _endpointIndex)];

    /// <summary>Connected and not known to be lost: turns false the moment the link reports itself lost.</summary>
    public bool IsConnected => _connected;

    /// <summary>The cursor in memory: everything at or below it was confirmed by this upstream.</summary>
    public long Position { get; private set; }

    /// <summary>
    /// Ends the pause before the next connect attempt, if the link is down and waiting (an operator's
    /// request: the button's long press); a connected link, or one connecting, is left as it is.
    /// </summary>
    public void ReconnectNow() => Volatile.Read(ref _pause).Cancel();

    /// <summary>Forwards until <paramref name="stopping"/>; a batch already sent may finish until <paramref name="abort"/>.</summary>
    /// <param name="stopping">Stop taking new batches (and stop reconnecting).</param>
    /// <param name="abort">Give up on the batch in flight too: it stays in the outbox and is sent after restart.</param>
    public async Task RunAsync(CancellationToken stopping, CancellationToken abort)
    {
        Position = outbox.GetCursor(Upstream);
        var backoff = new Backoff(options.ReconnectMinDelay, options.ReconnectMaxDelay, attemptsPerStep: connector.Endpoints.Count);
        metrics.Gauge("upstream_connected", Upstream, () => IsConnected ? 1 : 0);
        metrics.Gauge("upstream_endpoint_index", Upstream, () => Volatile.Read(ref _endpointIndex));
        metrics.Gauge("upstream_cursor", Upstream, () => Position);
        RegisterFlowMetrics();
        RegisterBacklogMetrics();
        // When the last link ended: a connect after one is a reconnect, counted and logged with the time down.
        long? linkEndedAt = null;

        while (!stopping.IsCancellationRequested)
        {
            IUpstreamLink? link = null;
            var failed = false;
            try
            {
                LogConnecting(Upstream, CurrentEndpoint);
                link = await connector.ConnectAsync(_endpointIndex, stopping).ConfigureAwait(false);
                _connected = true;
                // Health follows the link itself, not the next batch: an idle link that dies shows at once.
                using var lost = link.Lost.UnsafeRegister(static self => ((Forwarder)self!).MarkDown(), this);
                using var flow = WatchFlow(link);
                metrics.Increment("upstream_connects_total", Upstream);
                if (linkEndedAt is { } ended)
                {
                    metrics.Increment("upstream_reconnects_total", Upstream);
                    LogReconnected(Upstream, CurrentEndpoint, Stopwatch.GetElapsedTime(ended).TotalMilliseconds, Position);
                }
                else
                {
                    LogConnected(Upstream, CurrentEndpoint, Position);
                }
                await DrainAsync(link, backoff, stopping, abort).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutboxFailedException)
            {
                failed = true;
                metrics.Increment("upstream_failures_total", Upstream);
                LogLinkFailed(Upstream, CurrentEndpoint, Describe(ex));
            }
            finally
            {
                MarkDown();
                ForgetBlock();
                if (link is not null)
                {
                    linkEndedAt = Stopwatch.GetTimestamp();
                    await CloseAsync(link, failed ? FailedCloseGrace : CloseGrace).ConfigureAwait(false);
                }
            }

            if (stopping.IsCancellationRequested) break;

            // Fail over like ActiveMQ's failover: transport: the next endpoint, after a jittered pause that grows once per walk of the endpoints.
            Volatile.Write(ref _endpointIndex, (_endpointIndex + 1) % connector.Endpoints.Count);
            var delay = backoff.Next();
            LogRetrying(Upstream, delay.TotalMilliseconds, CurrentEndpoint);
            var pause = new CancellationTokenSource();
            Volatile.Write(ref _pause, pause);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping, pause.Token);
            try
            {
                await Task.Delay(delay, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException)
            {
                LogReconnectNow(Upstream, CurrentEndpoint);
            }
        }
    }

    /// <summary>
    /// Forwards batch after batch over <paramref name="link"/> until it fails, is lost, or
    /// <paramref name="stopping"/>; between batches it waits for the next commit.
    /// </summary>
    private async Task DrainAsync(IUpstreamLink link, Backoff backoff, CancellationToken stopping, CancellationToken abort)
    {
        var deliveries = new List<Delivery>(options.BatchMaxMessages);
        Task<(long Committed, IReadOnlyList<StoredMessage> Batch)>? next = null;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping, link.Lost);
        try
        {
            while (true)
            {
                stopping.ThrowIfCancellationRequested();
                ThrowIfLost(link);
                // Note what is committed before reading: if the read finds nothing, wait for a commit after
                // that, not after our position (a failed commit or dropped and expired messages can leave
                // the sequence ahead of anything stored, and waiting after our position would spin).
                var (committed, batch) = next is not null ? await next.ConfigureAwait(false) : Read(Position);
                next = null;
                if (batch.Count == 0)
                {
                    await WaitForMessagesAsync(link, Math.Max(Position, committed), idle.Token).ConfigureAwait(false);
                    continue;
                }

                CollectDeliveries(batch, deliveries);
                var through = batch[^1].Sequence;
                // Read the next batch while this one waits for its confirms: reading and decoding a batch
                // costs a good part of a confirm round trip, and nothing else is waiting on it. If this
                // batch fails, the read is dropped and the link starts again from Position.
                next = Task.Run(() => Read(through), CancellationToken.None);

                await ForwardBatchAsync(link, deliveries, through, batch, abort).ConfigureAwait(false);
                backoff.Reset();
            }
        }
        finally
        {
            // A read started for a batch that will not be sent: let it finish unobserved-safe.
            next?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Fills <paramref name="deliveries"/> with one delivery per route of this upstream that each message
    /// of <paramref name="batch"/> matches; expired messages are counted and left out.
    /// </summary>
    private void CollectDeliveries(IReadOnlyList<StoredMessage> batch, List<Delivery> deliveries)
    {
        deliveries.Clear();
        var now = DateTimeOffset.UtcNow;
        foreach (var stored in batch)
        {
            var message = stored.Message;
            if (message.ExpiresAt is { } expires && expires <= now)
            {
                metrics.Increment("messages_expired_unsent_total", Upstream);
                continue;
            }
            foreach (var route in routes.Match(message.Topic, Upstream))
            {
                // Another route may keep the message longer; this one's TTL is its own.
                if (route.IsExpired(message.ReceivedAt, now)) metrics.Increment("messages_expired_unsent_total", Upstream);
                else deliveries.Add(new Delivery(stored, route, stored.MessageId(gatewayId)));
            }
        }
    }

    /// <summary>
    /// Sends the batch's deliveries (none when all expired or none matched a route) and, once they are
    /// confirmed, moves the cursor <paramref name="through"/> the whole batch.
    /// </summary>
    private async Task ForwardBatchAsync(IUpstreamLink link, List<Delivery> deliveries, long through, IReadOnlyList<StoredMessage> batch, CancellationToken abort)
    {
        if (deliveries.Count > 0)
        {
            await SendWatchedAsync(link, deliveries, abort).ConfigureAwait(false);
            metrics.Increment("messages_forwarded_total", Upstream, deliveries.Count);
            CountForwardedByRoute(deliveries);
        }

        await AdvanceCursorAsync(through, batch, abort).ConfigureAwait(false);
        Position = through;
        NoteProgress();
    }

    /// <summary>
    /// Sends one batch and waits for its confirms, giving up when the link is lost, on abort, or when
    /// nothing was confirmed for <see cref="ForwarderOptions.ConfirmTimeout"/> (a stall). The stall
    /// clock restarts at every confirm: a broker that is slow but still confirming is left to finish;
    /// it stands still while the broker blocks publishing (see <see cref="OnFlowChanged"/>).
    /// </summary>
    private async Task SendWatchedAsync(IUpstreamLink link, List<Delivery> deliveries, CancellationToken abort)
    {
        // Linked to abort, not stopping: on shutdown the batch in flight may still be confirmed.
        var stall = StartStallClock(link, abort);
        try
        {
            await link.SendBatchAsync(deliveries, stall.Progressed, stall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!abort.IsCancellationRequested)
        {
            ThrowIfLost(link);
            metrics.Increment("upstream_stalls_total", Upstream);
            throw new TimeoutException(
                $"no confirm for a batch of {deliveries.Count} within {options.ConfirmTimeout.TotalSeconds:0.#} s; restarting the link");
        }
        finally
        {
            StopStallClock(stall);
        }
    }

    /// <summary>Waits for a commit after <paramref name="after"/>; <paramref name="idle"/> also ends when the link is lost.</summary>
    private async Task WaitForMessagesAsync(IUpstreamLink link, long after, CancellationToken idle)
    {
        try
        {
            await outbox.WaitForMessagesAfterAsync(after, idle).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (link.Lost.IsCancellationRequested)
        {
            ThrowIfLost(link);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new OutboxFailedException(ex);
        }
    }

    private async Task AdvanceCursorAsync(long through, IReadOnlyList<StoredMessage> batch, CancellationToken abort)
    {
        try
        {
            await outbox.AdvanceCursorAsync(Upstream, through, batch, abort).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new OutboxFailedException(ex);
        }
    }

    private (long Committed, IReadOnlyList<StoredMessage> Batch) Read(long after)
    {
        try
        {
            var committed = outbox.LastCommittedSequence;
            return (committed, outbox.ReadAfter(after, options.BatchMaxMessages, options.BatchMaxBytes));
        }
        catch (Exception ex)
        {
            throw new OutboxFailedException(ex);
        }
    }

    private static void ThrowIfLost(IUpstreamLink link)
    {
        if (link.Lost.IsCancellationRequested) throw new IOException($"link lost: {link.LostBecause ?? "no reason given"}");
    }

    /// <summary>Closes the link, or abandons it (to finish or fail in the background) after <paramref name="grace"/>.</summary>
    private async Task CloseAsync(IUpstreamLink link, TimeSpan grace)
    {
        // On the pool: a link whose close blocks before its first await must not block failover either.
        var closing = Task.Run(async () => await link.DisposeAsync().ConfigureAwait(false));
        try
        {
            await closing.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!closing.IsCompleted)
        {
            metrics.Increment("upstream_closes_abandoned_total", Upstream);
            LogCloseAbandoned(Upstream, CurrentEndpoint, grace.TotalSeconds);
            _ = closing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        catch (Exception ex)
        {
            // The link already failed or we are stopping; a close that fails changes nothing we can act on.
            LogCloseFailed(Upstream, Describe(ex));
        }
    }

    /// <summary>The cause chain in one line, so a log line names the root cause, not just the wrapper.</summary>
    internal static string Describe(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is AggregateException { InnerExceptions.Count: > 1 } agg)
            {
                parts.Add(string.Join("; ", agg.InnerExceptions.Select(i => i.Message)));
                break;
            }
            if (parts.Count == 0 || parts[^1] != e.Message) parts.Add(e.Message);
        }
        return string.Join(" <- ", parts);
    }

    [LoggerMessage(EventIds.UpstreamConnecting, LogLevel.Information, "Upstream {Upstream}: connecting to {Endpoint}")]
    private partial void LogConnecting(string upstream, string endpoint);

    [LoggerMessage(EventIds.UpstreamConnected, LogLevel.Information, "Upstream {Upstream}: connected to {Endpoint}, forwarding after sequence {Cursor}")]
    private partial void LogConnected(string upstream, string endpoint, long cursor);

    [LoggerMessage(EventIds.UpstreamReconnected, LogLevel.Information,
        "Upstream {Upstream}: reconnected to {Endpoint} {DownMs:0} ms after the last link ended, forwarding after sequence {Cursor}")]
    private partial void LogReconnected(string upstream, string endpoint, double downMs, long cursor);

    [LoggerMessage(EventIds.UpstreamFailed, LogLevel.Warning, "Upstream {Upstream}: link to {Endpoint} failed: {Cause}")]
    private partial void LogLinkFailed(string upstream, string endpoint, string cause);

    [LoggerMessage(EventIds.UpstreamRetrying, LogLevel.Information, "Upstream {Upstream}: retrying in {DelayMs:0} ms with {Endpoint}")]
    private partial void LogRetrying(string upstream, double delayMs, string endpoint);

    [LoggerMessage(EventIds.UpstreamReconnectNow, LogLevel.Information, "Upstream {Upstream}: asked to reconnect now, retrying with {Endpoint} without waiting")]
    private partial void LogReconnectNow(string upstream, string endpoint);

    [LoggerMessage(EventIds.UpstreamCloseFailed, LogLevel.Debug, "Upstream {Upstream}: closing the link failed: {Cause}")]
    private partial void LogCloseFailed(string upstream, string cause);

    [LoggerMessage(EventIds.UpstreamCloseAbandoned, LogLevel.Warning,
        "Upstream {Upstream}: the link to {Endpoint} did not close within {GraceSeconds:0.#} s; abandoned, moving on")]
    private partial void LogCloseAbandoned(string upstream, string endpoint, double graceSeconds);
}
