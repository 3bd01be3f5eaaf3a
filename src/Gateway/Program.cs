using Gateway.CommandLine;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Status;
using Gateway.Security;

namespace Gateway;

public static class Program
{
    public static Task<int> Main(string[] args) => GatewayCommandLine.RunAsync(args, RunServiceAsync);

    /// <summary>The service, as <c>gateway</c> and <c>gateway run</c> start it.</summary>
    /// <param name="overrides">Configuration overrides from the command line.</param>
    /// <param name="configFile">The configuration file named by <c>--config</c>, if any.</param>
    private static async Task<int> RunServiceAsync(string[] overrides, string? configFile)
    {
        WebApplication app;
        try
        {
            app = Build(overrides, configFile: configFile);
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
    /// <param name="configFile">The configuration file instead of GATEWAY_CONFIG's (<c>--config</c>).</param>
    /// <exception cref="GatewayConfigurationException">A configuration file, section, key or value cannot be used.</exception>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? overrideServices = null, string? configFile = null)
    {
        var (_, problems) = CommandConfiguration.Read(configFile, args);
        if (problems.Count > 0) throw new GatewayConfigurationException(string.Join("; ", problems));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        CommandConfiguration.AddSources(builder.Configuration, CommandConfiguration.ApplianceFile(configFile).Path, args);

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
            .AddStatus()
            .AddBacklog();
        builder.Services.AddGatewaySecurity();
        builder.Services.AddSystemd();
        overrideServices?.Invoke(builder.Services);
        builder.Logging.AddGatewayConsole(builder.Configuration);

        builder.AddListeners(options);

        var app = builder.Build().LoadCertificate();
        app.UseGatewaySecurity(); // reads the password file now (unreadable: exit 2), then guards the HTTP port
        app.Services.GetRequiredService<Security.AccessControl>(); // a missing or bad ACL file stops the start here, in one line
        app.MapOperatorEndpoints();
        app.MapBrowserEndpoints();
        app.MapStatusEndpoints();
        app.MapBacklogApi();
        return app;
    }
}
