using Gateway.Core.Forwarding;
using Gateway.Core.Routing;
using Gateway.Stomp.Server;

namespace Gateway.Configuration;

/// <summary>The configuration could not be used; the message names the key and what is wrong with it.</summary>
public sealed class GatewayConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Binds and checks the <c>Gateway</c> section once, at start, before anything is opened.</summary>
public static class GatewayConfiguration
{
    /// <summary>The bound options, with every value checked.</summary>
    /// <exception cref="GatewayConfigurationException">A key is unknown, or a value missing, malformed or out of range.</exception>
    public static GatewayOptions Load(IConfiguration configuration)
    {
        var (options, problems) = LoadChecked(configuration);
        return options ?? throw new GatewayConfigurationException(string.Join("; ", problems));
    }

    /// <summary>The bound options, or null and every problem found, each one line naming its key.</summary>
    public static (GatewayOptions? Options, List<string> Problems) LoadChecked(IConfiguration configuration)
    {
        var section = configuration.GetSection(GatewayOptions.Section);
        var unknown = OptionsSections.UnknownKeys(section);
        if (unknown.Count > 0) return (null, [$"unknown setting {string.Join(", ", unknown)} (check the spelling; every key is in docs/configuration.md)"]);

        GatewayOptions options;
        try
        {
            options = Bind(section);
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key ("Failed to convert configuration value at 'Gateway:Mqtt:Port' ..."),
            // a bad number one level above the FormatException: take the deepest message naming it.
            var naming = ex.Message;
            for (Exception? e = ex; e is not null; e = e.InnerException)
            {
                if (e.Message.Contains("'Gateway", StringComparison.Ordinal)) naming = e.Message;
            }
            return (null, [naming.Split('\n')[0].Trim()]);
        }

        var errors = Validate(options);
        if (errors.Count > 0) return (null, errors);
        return (options with { Id = string.IsNullOrWhiteSpace(options.Id) ? DefaultId() : options.Id }, errors);
    }

    /// <summary>Every problem found, each naming its key as it is written in a file (<c>Gateway:Mqtt:Port</c>).</summary>
    public static List<string> Validate(GatewayOptions o)
    {
        var errors = new List<string>();
        errors.AddRange(o.Validate());
        errors.AddRange(o.Mqtt.Validate(OptionsSections.Mqtt.Key));
        errors.AddRange(o.Http.Validate(OptionsSections.Http.Key));
        errors.AddRange(o.Stomp.Validate(OptionsSections.Stomp.Key));
        errors.AddRange(o.StompSessions.Validate(OptionsSections.Stomp.Key));
        errors.AddRange(o.Outbox.Validate(OptionsSections.Outbox.Key));
        errors.AddRange(o.Auth.Validate(OptionsSections.Auth.Key));
        errors.AddRange(o.Hardware.Validate(OptionsSections.Hardware.Key));
        errors.AddRange(o.Tls.Validate(OptionsSections.Tls.Key));
        errors.AddRange(ListenerPorts.ValidateAll(o));
        errors.AddRange(o.Limits.Validate(OptionsSections.Limits.Key));

        foreach (var (name, upstream) in o.Upstreams) errors.AddRange(upstream.Validate($"Gateway:Upstreams:{name}"));
        for (var i = 0; i < o.Routes.Count; i++) errors.AddRange(o.Routes[i].Validate($"Gateway:Routes:{i}", o.Upstreams.Keys));
        return errors;
    }

    public static RouteTable BuildRouteTable(GatewayOptions o) =>
        new(o.Routes.Select(r => new Core.Routing.Route(r.Filter!, r.Upstream!, new RouteTarget(r.Exchange, r.ExchangeType, r.DeclareExchange, r.RoutingKey, r.Destination), r.Ttl, r.WhenFull)),
            o.Upstreams.Keys);

    /// <summary>
    /// Each section into its record. Where two records share a section, or a record takes a value from
    /// another section, it is said here and nowhere else.
    /// </summary>
    private static GatewayOptions Bind(IConfigurationSection section)
    {
        var options = section.Get<GatewayOptions>() ?? new GatewayOptions();
        var outbox = options.Outbox with { DataPath = options.DataPath };
        var sessions = section.GetSection("Stomp").Get<StompServerOptions>() ?? new StompServerOptions();
        return ListenerPorts.WithTlsDefaults(options) with
        {
            Outbox = outbox,
            // A STOMP body the outbox would refuse is refused as the frame is read, before it is buffered whole.
            StompSessions = sessions with { Limits = sessions.Limits with { MaxBodyBytes = outbox.MaxMessageBytes } },
            Upstreams = options.Upstreams.ToDictionary(
                u => u.Key,
                u => u.Value with { Forwarding = section.GetSection($"Upstreams:{u.Key}").Get<ForwarderOptions>() ?? new ForwarderOptions() },
                StringComparer.Ordinal),
        };
    }

    /// <summary>The host name, made fit for a message id prefix.</summary>
    private static string DefaultId()
    {
        var name = new string(Environment.MachineName.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.').ToArray());
        return name.Length > 0 ? name[..Math.Min(name.Length, 64)] : "gateway";
    }
}
