using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Upstreams.ActiveMq;
using Gateway.Upstreams.RabbitMq;
using Gateway.Upstreams.Tls;

namespace Gateway.Hosting;

/// <summary>The forwarding part: one <see cref="Forwarder"/> per upstream, run by one hosted service.</summary>
internal static class ForwardingRegistration
{
    /// <param name="gatewayId">This gateway's name: the prefix of every upstream message id.</param>
    public static IServiceCollection AddForwarding(this IServiceCollection services, string gatewayId, IReadOnlyDictionary<string, UpstreamSettings> upstreams)
    {
        foreach (var (name, upstream) in upstreams)
        {
            // Read now, while building: a secret the service user cannot read stops the start with one line (exit 2).
            var password = Security.UpstreamSecrets.PasswordOf(name, upstream);
            services.AddSingleton(sp => new Forwarder(
                CreateConnector(name, upstream, password, gatewayId, sp),
                sp.GetRequiredService<IOutbox>(),
                sp.GetRequiredService<RouteTable>(),
                gatewayId,
                upstream.Forwarding,
                sp.GetRequiredService<GatewayMetrics>(),
                sp.GetRequiredService<ILogger<Forwarder>>()));
        }
        services.AddSingleton<ForwardingService>();
        services.AddSingleton<OldestWaiting>();
        services.AddHostedService(sp => sp.GetRequiredService<ForwardingService>());
        return services;
    }

    private static IUpstreamConnector CreateConnector(string name, UpstreamSettings upstream, string? password, string gatewayId, IServiceProvider sp)
    {
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Upstreams");
        if (upstream.AllowUntrustedCertificate)
        {
            logger.LogWarning(EventIds.UpstreamTlsValidationOff,
                "Upstream {Upstream}: TLS certificate validation is OFF (AllowUntrustedCertificate). Anyone on the path can read and change this traffic; lab use only", name);
        }
        var endpoints = upstream.Endpoints.Select(e => new Uri(e)).ToArray();
        var tls = new TlsSettings(upstream.CaFile, upstream.AllowUntrustedCertificate);
        return upstream.Kind switch
        {
            UpstreamKind.RabbitMq => new RabbitMqConnector(
                new RabbitMqUpstreamOptions
                {
                    Name = name, Endpoints = endpoints, UserName = upstream.UserName, Password = password, Tls = tls, Heartbeat = upstream.Heartbeat,
                    ClientName = $"edge-gateway {gatewayId}",
                    GatewayId = gatewayId,
                },
                sp.GetRequiredService<RouteTable>().Routes),
            UpstreamKind.ActiveMq => new ActiveMqConnector(new ActiveMqUpstreamOptions
            {
                Name = name, Endpoints = endpoints, UserName = upstream.UserName, Password = password, Tls = tls, Heartbeat = upstream.Heartbeat,
            }),
            _ => throw new GatewayConfigurationException($"Gateway:Upstreams:{name}:Kind '{upstream.Kind}' is not supported"),
        };
    }
}
