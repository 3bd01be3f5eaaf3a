using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Security;
using Gateway.Stomp;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Gateway.Hosting;

/// <summary>
/// Kestrel's listeners: HTTP and HTTPS (the same endpoints on both, WSS for <c>/stomp</c> and
/// <c>/mqtt</c>), STOMP over TCP and over TLS, each unless its port is 0. The MQTT listeners are the
/// MQTT part's own (<see cref="Mqtt.MqttListenerService"/>).
/// </summary>
internal static class GatewayListeners
{
    public static WebApplicationBuilder AddListeners(this WebApplicationBuilder builder, GatewayOptions options)
    {
        if (options.Tls.Enabled)
        {
            builder.Services.AddSingleton(sp => new ServerCertificate(options.Tls, sp.GetRequiredService<GatewayMetrics>(), sp.GetRequiredService<ILogger<ServerCertificate>>()));
        }
        if (HasKestrelListener(options)) builder.WebHost.ConfigureKestrel(kestrel => Listen(kestrel, options));
        else builder.Services.AddSingleton<IServer, NoHttpServer>(); // Kestrel with no endpoint would open localhost:5000 of its own accord
        return builder;
    }

    /// <summary>Reads the certificate now, so a bad one stops the start with one line before anything listens.</summary>
    /// <exception cref="GatewayConfigurationException">See <see cref="ServerCertificate"/>.</exception>
    public static WebApplication LoadCertificate(this WebApplication app)
    {
        _ = app.Services.GetService<ServerCertificate>();
        return app;
    }

    private static bool HasKestrelListener(GatewayOptions o) => o.Http.Port != 0 || o.Http.TlsPort > 0 || o.Stomp.Port != 0 || o.Stomp.TlsPort > 0;

    private static void Listen(KestrelServerOptions kestrel, GatewayOptions o)
    {
        var certificate = kestrel.ApplicationServices.GetService<ServerCertificate>();
        var http = IPAddress.Parse(o.Http.BindAddress);
        var stomp = IPAddress.Parse(o.Stomp.BindAddress);
        // Gateway:Limits first on every listener: a refused connection costs no TLS handshake.
        kestrel.ApplyLimits(o.Limits);
        if (o.Http.Port != 0) kestrel.Listen(http, o.Http.Port, listen => listen.UseConnectionLimits("HTTP"));
        if (o.Http.TlsPort is > 0 and var https) kestrel.Listen(http, https, listen => listen.UseConnectionLimits("HTTPS").UseHttps(Handshake(certificate!)));
        if (o.Stomp.Port != 0) kestrel.Listen(stomp, o.Stomp.Port, listen => listen.UseConnectionLimits("STOMP").UseConnectionHandler<StompTcpConnectionHandler>());
        if (o.Stomp.TlsPort is > 0 and var stompTls)
        {
            kestrel.Listen(stomp, stompTls, listen =>
            {
                listen.UseConnectionLimits("STOMP over TLS").UseHttps(Handshake(certificate!));
                listen.UseConnectionHandler<StompTcpConnectionHandler>();
            });
        }
    }

    /// <summary>Asked once per connection, so a handshake after a renewal presents the new certificate.</summary>
    private static TlsHandshakeCallbackOptions Handshake(ServerCertificate certificate) => new()
    {
        OnConnection = _ => ValueTask.FromResult(certificate.HandshakeOptions()),
        HandshakeTimeout = certificate.HandshakeTimeout,
    };

    /// <summary>Stands in for Kestrel when every HTTP and STOMP port is 0: the host runs with no HTTP listener at all.</summary>
    private sealed class NoHttpServer : IServer
    {
        public IFeatureCollection Features { get; } = NewFeatures();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }

        private static FeatureCollection NewFeatures()
        {
            var features = new FeatureCollection();
            features.Set<IServerAddressesFeature>(new ServerAddressesFeature());
            return features;
        }
    }
}
