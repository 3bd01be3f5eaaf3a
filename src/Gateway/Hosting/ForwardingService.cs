using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;

namespace Gateway.Hosting;

/// <summary>Runs one <see cref="Forwarder"/> per configured upstream; with none, says the gateway only stores.</summary>
internal sealed partial class ForwardingService(
    IEnumerable<Forwarder> forwarders,
    GatewayOptions options,
    ILogger<ForwardingService> logger) : BackgroundService
{
    public IReadOnlyList<Forwarder> Forwarders { get; } = forwarders.ToArray();

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Forwarders.Count == 0)
        {
            LogStoreOnly(Path.GetFullPath(options.DataPath));
            return Task.CompletedTask;
        }
        return Task.WhenAll(Forwarders.Select(f => Task.Run(() => f.RunAsync(stoppingToken), stoppingToken)));
    }

    [LoggerMessage(EventIds.StoreAndForwardOnly, LogLevel.Warning,
        "No upstream configured: store-and-forward only. Every message is kept in {DataPath} until an upstream is configured (Gateway:Upstreams)")]
    private partial void LogStoreOnly(string dataPath);
}
