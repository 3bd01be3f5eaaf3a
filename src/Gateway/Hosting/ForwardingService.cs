using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;

namespace Gateway.Hosting;

/// <summary>
/// Runs one <see cref="Forwarder"/> per configured upstream; with none, says the gateway only stores.
/// On shutdown, no new batch starts, and a batch already sent has <see cref="DrainDeadline"/> to be
/// confirmed (so it need not be sent again after restart) before it is abandoned to the outbox.
/// A forwarder that ends on its own (an outbox failure, a bug) is fatal: one critical line with the
/// exception, <c>/healthz</c> reports it, and the host stops so that the exit code (non-zero, see
/// <see cref="Fault"/>) has systemd start the gateway again. A gateway that accepts but no longer
/// forwards would otherwise fill its store in silence.
/// </summary>
internal sealed partial class ForwardingService(
    IEnumerable<Forwarder> forwarders,
    GatewayOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<ForwardingService> logger) : IHostedService, IDisposable
{
    /// <summary>Well inside systemd's stop timeout (30 s in the unit), so the store still closes cleanly.</summary>
    private static readonly TimeSpan DrainDeadline = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new(), _abort = new();
    private Task _running = Task.CompletedTask;
    private string? _fault;

    public IReadOnlyList<Forwarder> Forwarders { get; } = forwarders.ToArray();

    /// <summary>Why a forwarder ended unexpectedly, if one did: the gateway is then not alive and exits non-zero.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Forwarders.Count == 0)
        {
            LogStoreOnly(Path.GetFullPath(options.DataPath));
            return Task.CompletedTask;
        }
        _running = Task.WhenAll(Forwarders.Select(f => Task.Run(() => RunAsync(f), CancellationToken.None)));
        return Task.CompletedTask;
    }

    private async Task RunAsync(Forwarder forwarder)
    {
        try
        {
            await forwarder.RunAsync(_stopping.Token, _abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // the batch in flight was given up at shutdown; it stays in the outbox
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _fault, $"the forwarder for upstream '{forwarder.Upstream}' stopped: {ex.Message}", null);
            LogForwarderDied(ex, forwarder.Upstream);
            Environment.ExitCode = OutboxService.PartFailedExitCode; // Program returns it once the host has stopped
            lifetime.StopApplication();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        await Task.WhenAny(_running, Task.Delay(DrainDeadline, cancellationToken)).ConfigureAwait(false);
        _abort.Cancel();
        await _running.ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _abort.Dispose();
    }

    [LoggerMessage(EventIds.ForwarderDied, LogLevel.Critical,
        "Upstream {Upstream}: the forwarder stopped unexpectedly; nothing is forwarded any more, so the gateway stops (non-zero exit) to be restarted")]
    private partial void LogForwarderDied(Exception exception, string upstream);

    [LoggerMessage(EventIds.StoreAndForwardOnly, LogLevel.Warning,
        "No upstream configured: store-and-forward only. Every message is kept in {DataPath} until an upstream is configured (Gateway:Upstreams)")]
    private partial void LogStoreOnly(string dataPath);
}
