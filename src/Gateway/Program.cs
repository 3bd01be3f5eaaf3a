using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Status;
using Gateway.Security;

namespace Gateway;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["passwd", .. var passwd]) return Security.PasswdCommand.RunFromConsole(passwd);
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (GatewayConfigurationException ex)
        {
            // One line naming the key, and a distinct exit code, so systemd's journal shows the cause.
            await Console.Error.WriteLineAsync($"gateway: configuration error: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            await app.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode; // 0, unless a part stopped the host on a fault (OutboxService, ForwardingService)
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            // A port in use, a data folder that cannot be opened: say what and stop.
            await Console.Error.WriteLineAsync($"gateway: could not start: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>The configured host, ready to run. Configuration: <c>appsettings.json</c>, then
    /// <c>firmware-config/gateway.json</c> beside the program (or the file named by
    /// <c>GATEWAY_CONFIG</c>), then environment variables, then the command line.</summary>
    /// <param name="args">Command-line arguments (configuration overrides).</param>
    /// <param name="overrideServices">Replaces services after the gateway's own wiring; tests use it to observe the fsync.</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? overrideServices = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        var applianceFile = Environment.GetEnvironmentVariable("GATEWAY_CONFIG")
                            ?? Path.Combine(AppContext.BaseDirectory, "firmware-config", "gateway.json");
        builder.Configuration.AddJsonFile(applianceFile, optional: true);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);

        var options = GatewayConfiguration.Load(builder.Configuration);
        // Hosted services start in the order added and stop in reverse. Start: store, forwarding, then
        // accept clients. Stop: stop accepting, let the batch in flight be confirmed, then commit what
        // is queued and close the store.
        builder.Services
            .AddGatewayCore(options)
            .AddLimits(options.Limits)
            .AddOutbox(options.Outbox)
            .AddForwarding(options.Id!, options.Upstreams)
            .AddStomp(options.StompSessions)
            .AddMqtt()
            .AddFrontPanel()
            .AddStatus();
        builder.Services.AddGatewaySecurity();
        builder.Services.AddSystemd();
        overrideServices?.Invoke(builder.Services);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
        });

        builder.AddListeners(options);

        var app = builder.Build().LoadCertificate();
        app.UseGatewaySecurity(); // reads the password file now (unreadable: exit 2), then guards the HTTP port
        app.Services.GetRequiredService<Security.AccessControl>(); // a missing or bad ACL file stops the start here, in one line
        app.MapOperatorEndpoints();
        app.MapBrowserEndpoints();
        app.MapStatusEndpoints();
        return app;
    }
}
