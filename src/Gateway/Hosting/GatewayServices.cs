using Gateway.Configuration;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;
using Gateway.Core.Forwarding;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using Gateway.Mqtt;
using Gateway.Stomp;
using Gateway.Storage.LiteDb;
using Gateway.Upstreams.ActiveMq;
using Gateway.Upstreams.RabbitMq;
using Gateway.Upstreams.Tls;

namespace Gateway.Hosting;

/// <summary>The DI wiring, one method per part. Hosted services start in the order added and stop in reverse.</summary>
internal static class GatewayServices
{
    public static IServiceCollection AddGateway(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(GatewayConfiguration.BuildRouteTable(options));
        services.AddSingleton<GatewayMetrics>();
        // Start: store, forwarding, then accept clients. Stop, in reverse: stop accepting, let the
        // batch in flight be confirmed, then commit what is queued and close the store.
        return services.AddOutbox(options).AddForwarding(options).AddMqttIngest();
    }

    private static IServiceCollection AddOutbox(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton(new LiteDbOutboxOptions
        {
            DataPath = options.DataPath,
            MaxGroupMessages = options.Outbox.MaxGroupMessages,
            MaxGroupBytes = options.Outbox.MaxGroupBytes,
            UnacknowledgedLinger = options.Outbox.UnacknowledgedLinger,
            PendingCapacity = options.Outbox.PendingCapacity,
            MaxMessageBytes = options.Outbox.MaxMessageBytes,
            ExpirySweepInterval = options.Outbox.ExpirySweepInterval,
            MaxMessages = options.Outbox.MaxMessages,
            MaxBytes = options.Outbox.MaxBytes,
            WhenFull = options.Outbox.WhenFull,
            MinFreeDiskBytes = options.Outbox.MinFreeDiskBytes,
        });
        services.AddSingleton<IDiskSync>(FsyncDiskSync.Instance);
        services.AddSingleton(sp => new LiteDbOutbox(
            sp.GetRequiredService<LiteDbOutboxOptions>(),
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<GatewayMetrics>(),
            sp.GetRequiredService<ILogger<LiteDbOutbox>>(),
            sp.GetRequiredService<IDiskSync>()));
        services.AddSingleton<IOutbox>(sp => sp.GetRequiredService<LiteDbOutbox>());
        services.AddHostedService<OutboxService>();
        return services;
    }

    private static IServiceCollection AddMqttIngest(this IServiceCollection services)
    {
        services.AddSingleton<LocalBus>();
        services.AddSingleton<StompBridge>();
        services.AddSingleton<StompTcpConnectionHandler>();
        services.AddSingleton<MqttIngest>();
        services.AddSingleton<RetainedMessageStore>();
        services.AddSingleton<MqttListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttListenerService>());
        return services;
    }

    private static IServiceCollection AddForwarding(this IServiceCollection services, GatewayOptions options)
    {
        foreach (var (name, upstream) in options.Upstreams)
        {
            services.AddSingleton(sp => new Forwarder(
                CreateConnector(name, upstream, options, sp),
                sp.GetRequiredService<IOutbox>(),
                sp.GetRequiredService<RouteTable>(),
                options.Id!,
                new ForwarderOptions
                {
                    BatchMaxMessages = upstream.BatchMaxMessages,
                    BatchMaxBytes = upstream.BatchMaxBytes,
                    ConfirmTimeout = upstream.ConfirmTimeout,
                    ReconnectMinDelay = upstream.ReconnectMinDelay,
                    ReconnectMaxDelay = upstream.ReconnectMaxDelay,
                },
                sp.GetRequiredService<GatewayMetrics>(),
                sp.GetRequiredService<ILogger<Forwarder>>()));
        }
        services.AddSingleton<ForwardingService>();
        services.AddHostedService(sp => sp.GetRequiredService<ForwardingService>());
        return services;
    }

    private static IUpstreamConnector CreateConnector(string name, UpstreamSettings upstream, GatewayOptions options, IServiceProvider sp)
    {
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Upstreams");
        if (upstream.AllowUntrustedCertificate)
        {
            logger.LogWarning(EventIds.UpstreamTlsValidationOff,
                "Upstream {Upstream}: TLS certificate validation is OFF (AllowUntrustedCertificate). Anyone on the path can read and change this traffic; lab use only", name);
        }
        var password = upstream.PasswordFile is { } file ? File.ReadLines(file).FirstOrDefault()?.Trim() : upstream.Password;
        var endpoints = upstream.Endpoints.Select(e => new Uri(e)).ToArray();
        var tls = new TlsSettings(upstream.CaFile, upstream.AllowUntrustedCertificate);
        return upstream.Kind switch
        {
            UpstreamKind.RabbitMq => new RabbitMqConnector(
                new RabbitMqUpstreamOptions
                {
                    Name = name, Endpoints = endpoints, UserName = upstream.UserName, Password = password, Tls = tls, Heartbeat = upstream.Heartbeat,
                    ClientName = $"edge-gateway {options.Id}",
                    GatewayId = options.Id!,
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
