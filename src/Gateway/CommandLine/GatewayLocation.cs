using System.Net;
using Gateway.Configuration;

namespace Gateway.CommandLine;

/// <summary>
/// Where the command line finds the gateway: it reads the service's own configuration (the same
/// files, GATEWAY_CONFIG or <c>--config</c>, environment variables and overrides), and calls the
/// admin API on the configured HTTP port over loopback, or at the bound address when it is one
/// address of this machine; the store of a stopped gateway is in its Gateway:DataPath.
/// </summary>
internal sealed class GatewayLocation(GatewayOptions options)
{
    public GatewayOptions Options { get; } = options;

    public Uri BaseAddress
    {
        get
        {
            var bound = IPAddress.Parse(Options.Http.BindAddress);
            var host = bound.Equals(IPAddress.Any) ? "127.0.0.1"
                : bound.Equals(IPAddress.IPv6Any) ? "[::1]"
                : bound.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bound}]"
                : bound.ToString();
            return new Uri($"http://{host}:{Options.Http.Port}");
        }
    }

    public string DataPath => Options.Outbox.DataPath;

    public string StoreFile => Path.Combine(DataPath, "outbox.db");
}
