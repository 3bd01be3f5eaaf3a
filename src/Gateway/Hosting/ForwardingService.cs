using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;

namespace Gateway.Hosting;

/// <summary>
/// Runs one <see cref="Forwarder"/> per configured upstream; with none, says the gateway only stores.
/// On shutdown, no new batch starts, and a batch already sent has <see cref="DrainDeadline"/> to be
/// confirmed (so it need not be sent again after restart) before it is abandoned to the outbox.
/// </summary>
internal sealed partial class ForwardingService(
    IEnumerable<Forwarder> forwarders,
    GatewayOptions options,
    ILogger<ForwardingService> logger) : IHostedService, IDisposable
{
    /// <summary>Well inside systemd's stop timeout (30 s in the unit), so the store still closes cleanly.</summary>
    private static readonly TimeSpan DrainDeadline = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new(), _abort = new();
    private Task _running = Task.CompletedTask;

    public IReadOnlyList<Forwarder> Forwarders { get; } = forwarders.ToArray();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Forwarders.Count == 0)
        {
            LogStoreOnly(Path.GetFullPath(options.DataPath));
            return Task.CompletedTask;
        }
        _running = Task.WhenAll(Forwarders.Select(f => Task.Run(() => f.RunAsync(_stopping.Token, _abort.Token), CancellationToken.None)));
        return Task.CompletedTask;
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

    [LoggerMessage(EventIds.StoreAndForwardOnly, LogLevel.Warning,
        "No upstream configured: store-and-forward only. Every message is kept in {DataPath} until an upstream is configured (Gateway:Upstreams)")]
    private partial void LogStoreOnly(string dataPath);
}
