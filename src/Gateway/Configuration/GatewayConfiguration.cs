using System.Net;
using Gateway.Core.Routing;

namespace Gateway.Configuration;

/// <summary>The configuration could not be used; the message names the key and what is wrong with it.</summary>
public sealed class GatewayConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Binds and checks the <c>Gateway</c> section once, at start, before anything is opened.</summary>
public static class GatewayConfiguration
{
    /// <summary>The bound options, with every value checked.</summary>
    /// <exception cref="GatewayConfigurationException">A value is missing, malformed or out of range.</exception>
    public static GatewayOptions Load(IConfiguration configuration)
    {
        GatewayOptions options;
        try
        {
            options = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>(b => b.ErrorOnUnknownConfiguration = true)
                      ?? new GatewayOptions();
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key ("Failed to convert configuration value at 'Gateway:Mqtt:Port' ..."
            // or "'Gateway:Mqt' was not found on ..."): pass its first line on as it is.
            // The message naming the key may sit at any depth of the chain (an unknown key is wrapped,
            // a bad number names its key one level above the FormatException): take the deepest one.
            var naming = ex.Message;
            for (Exception? e = ex; e is not null; e = e.InnerException)
            {
                if (e.Message.Contains("'Gateway", StringComparison.Ordinal) || e.Message.Contains("were not found on the instance of", StringComparison.Ordinal))
                    naming = e.Message;
            }
            throw new GatewayConfigurationException(DescribeBindingError(naming), ex);
        }

        var errors = Validate(options);
        if (errors.Count > 0) throw new GatewayConfigurationException(string.Join("; ", errors));
        return options with { Id = string.IsNullOrWhiteSpace(options.Id) ? DefaultId() : options.Id };
    }

    /// <summary>Every problem found, each naming its key as it is written in a file (<c>Gateway:Mqtt:Port</c>).</summary>
    public static List<string> Validate(GatewayOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string problem)
        {
            if (!ok) errors.Add($"Gateway:{key} {problem}");
        }

        Check(o.Id is null || (o.Id.Length is > 0 and <= 64 && o.Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')),
            "Id", $"must be 1-64 letters, digits, '-', '_' or '.' (was '{o.Id}')");
        Check(!string.IsNullOrWhiteSpace(o.DataPath), "DataPath", "must name a folder");

        Check(o.Mqtt.Port is > 0 and <= 65535, "Mqtt:Port", $"must be 1-65535 (was {o.Mqtt.Port})");
        Check(IPAddress.TryParse(o.Mqtt.BindAddress, out _), "Mqtt:BindAddress", $"must be an IP address (was '{o.Mqtt.BindAddress}')");
        Check(o.Mqtt.MaxPacketBytes is null or (>= 1024 and <= 268_435_460), "Mqtt:MaxPacketBytes", $"must be 1024 to 268435460, MQTT's largest packet (was {o.Mqtt.MaxPacketBytes})");
        Check(o.Mqtt.MaxPendingMessagesPerClient > 0, "Mqtt:MaxPendingMessagesPerClient", $"must be positive (was {o.Mqtt.MaxPendingMessagesPerClient})");
        Check(o.Http.Port is > 0 and <= 65535, "Http:Port", $"must be 1-65535 (was {o.Http.Port})");
        Check(IPAddress.TryParse(o.Http.BindAddress, out _), "Http:BindAddress", $"must be an IP address (was '{o.Http.BindAddress}')");
        Check(o.Http.Port != o.Mqtt.Port, "Http:Port", $"must differ from Gateway:Mqtt:Port (both {o.Http.Port})");
        for (var i = 0; i < o.Http.AllowedOrigins.Count; i++)
        {
            var origin = o.Http.AllowedOrigins[i];
            Check(origin == "*" || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && !origin.EndsWith('/')),
                $"Http:AllowedOrigins:{i}", $"must be * or an origin such as https://dash.example or http://10.0.0.5:3000 (was '{origin}')");
        }
        Check(o.Stomp.Port is >= 0 and <= 65535, "Stomp:Port", $"must be 1-65535, or 0 for no TCP listener (was {o.Stomp.Port})");
        Check(IPAddress.TryParse(o.Stomp.BindAddress, out _), "Stomp:BindAddress", $"must be an IP address (was '{o.Stomp.BindAddress}')");
        Check(o.Stomp.Port == 0 || (o.Stomp.Port != o.Mqtt.Port && o.Stomp.Port != o.Http.Port), "Stomp:Port",
            $"must differ from Gateway:Mqtt:Port and Gateway:Http:Port (was {o.Stomp.Port})");
        Check(o.Stomp.MaxPendingBytes >= 64 * 1024, "Stomp:MaxPendingBytes", $"must be at least 65536 (was {o.Stomp.MaxPendingBytes})");
        Check(o.Stomp.MaxPendingMessages > 0, "Stomp:MaxPendingMessages", $"must be positive (was {o.Stomp.MaxPendingMessages})");
        Check(o.Stomp.Heartbeat >= TimeSpan.Zero && o.Stomp.Heartbeat <= TimeSpan.FromHours(1), "Stomp:Heartbeat", $"must be between 0 and 1 hour (was {o.Stomp.Heartbeat})");
        Check(o.Stomp.ConnectTimeout > TimeSpan.Zero, "Stomp:ConnectTimeout", $"must be positive (was {o.Stomp.ConnectTimeout})");
        Check(o.Stomp.SocketSendBufferBytes is 0 or >= 4096, "Stomp:SocketSendBufferBytes", $"must be 0 (the OS decides) or at least 4096 (was {o.Stomp.SocketSendBufferBytes})");
        Check(o.Stomp.MaxSubscriptionsPerConnection > 0, "Stomp:MaxSubscriptionsPerConnection", $"must be positive (was {o.Stomp.MaxSubscriptionsPerConnection})");

        Check(o.Outbox.MaxGroupMessages is > 0 and <= 100_000, "Outbox:MaxGroupMessages", $"must be 1-100000 (was {o.Outbox.MaxGroupMessages})");
        Check(o.Outbox.MaxGroupBytes > 0, "Outbox:MaxGroupBytes", $"must be positive (was {o.Outbox.MaxGroupBytes})");
        Check(o.Outbox.UnacknowledgedLinger >= TimeSpan.Zero && o.Outbox.UnacknowledgedLinger <= TimeSpan.FromSeconds(10), "Outbox:UnacknowledgedLinger", $"must be 00:00:00 to 00:00:10 (was {o.Outbox.UnacknowledgedLinger})");
        Check(o.Outbox.PendingCapacity > 0, "Outbox:PendingCapacity", $"must be positive (was {o.Outbox.PendingCapacity})");
        Check(o.Outbox.ExpirySweepInterval >= TimeSpan.FromMilliseconds(100), "Outbox:ExpirySweepInterval", $"must be at least 00:00:00.100 (was {o.Outbox.ExpirySweepInterval})");
        Check(o.Outbox.MaxMessages > 0, "Outbox:MaxMessages", $"must be positive (was {o.Outbox.MaxMessages})");
        Check(o.Outbox.MaxBytes >= o.Outbox.MaxMessageBytes, "Outbox:MaxBytes", $"must be at least Gateway:Outbox:MaxMessageBytes (was {o.Outbox.MaxBytes})");
        Check(o.Outbox.MinFreeDiskBytes >= 0, "Outbox:MinFreeDiskBytes", $"must not be negative (was {o.Outbox.MinFreeDiskBytes})");
        Check(o.Outbox.MaxMessageBytes is > 0 and <= 15 << 20, "Outbox:MaxMessageBytes", $"must be 1 to 15728640, LiteDB's document limit less room for headers (was {o.Outbox.MaxMessageBytes})");

        foreach (var (name, u) in o.Upstreams)
        {
            var key = $"Upstreams:{name}";
            Check(u.Endpoints.Count > 0, $"{key}:Endpoints", "must list at least one endpoint");
            string[] schemes = u.Kind == UpstreamKind.ActiveMq ? ["stomp", "stomp+ssl"] : ["amqp", "amqps"];
            for (var i = 0; i < u.Endpoints.Count; i++)
            {
                var ok = Uri.TryCreate(u.Endpoints[i], UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme) && uri.Host.Length > 0;
                Check(ok, $"{key}:Endpoints:{i}", $"must be a URI with a host starting {string.Join(":// or ", schemes)}:// (Kind is {u.Kind}; was '{Redact(u.Endpoints[i])}')");
            }
            Check(u.Heartbeat >= TimeSpan.FromSeconds(1) || u.Heartbeat == TimeSpan.Zero, $"{key}:Heartbeat", $"must be 0 (off) or at least 1 second (was {u.Heartbeat})");
            Check(u.Password is null || u.PasswordFile is null, $"{key}:PasswordFile", "must not be set together with Password");
            Check(u.PasswordFile is null || File.Exists(u.PasswordFile), $"{key}:PasswordFile", $"names a file that does not exist ('{u.PasswordFile}')");
            Check(u.CaFile is null || File.Exists(u.CaFile), $"{key}:CaFile", $"names a file that does not exist ('{u.CaFile}')");
            Check(u.BatchMaxMessages is > 0 and <= 10_000, $"{key}:BatchMaxMessages", $"must be 1-10000 (was {u.BatchMaxMessages})");
            Check(u.BatchMaxBytes > 0, $"{key}:BatchMaxBytes", $"must be positive (was {u.BatchMaxBytes})");
            Check(u.ConfirmTimeout > TimeSpan.Zero, $"{key}:ConfirmTimeout", $"must be positive (was {u.ConfirmTimeout})");
            Check(u.ReconnectMinDelay > TimeSpan.Zero, $"{key}:ReconnectMinDelay", $"must be positive (was {u.ReconnectMinDelay})");
            Check(u.ReconnectMaxDelay >= u.ReconnectMinDelay, $"{key}:ReconnectMaxDelay", $"must be at least ReconnectMinDelay (was {u.ReconnectMaxDelay})");
        }

        for (var i = 0; i < o.Routes.Count; i++)
        {
            var r = o.Routes[i];
            var key = $"Routes:{i}";
            var filterProblem = TopicFilter.Validate(r.Filter);
            Check(filterProblem is null, $"{key}:Filter", filterProblem ?? "");
            Check(r.Upstream is not null && o.Upstreams.ContainsKey(r.Upstream), $"{key}:Upstream",
                $"must name a configured upstream ({(o.Upstreams.Count == 0 ? "none configured" : string.Join(", ", o.Upstreams.Keys))}; was '{r.Upstream}')");
            Check(r.RoutingKey is null || System.Text.Encoding.UTF8.GetByteCount(r.RoutingKey) <= 255, $"{key}:RoutingKey", "must be at most 255 bytes (AMQP short string)");
            Check(r.Destination is null || (r.Destination.StartsWith("/queue/", StringComparison.Ordinal) || r.Destination.StartsWith("/topic/", StringComparison.Ordinal)) && r.Destination.Length > 7,
                $"{key}:Destination", $"must be /queue/<name> or /topic/<name> (was '{r.Destination}')");
            Check(r.Ttl is null || r.Ttl > TimeSpan.Zero, $"{key}:Ttl", $"must be positive when set (was {r.Ttl})");
        }
        return errors;
    }

    public static RouteTable BuildRouteTable(GatewayOptions o) =>
        new(o.Routes.Select(r => new Core.Routing.Route(r.Filter!, r.Upstream!, new RouteTarget(r.Exchange, r.ExchangeType, r.DeclareExchange, r.RoutingKey, r.Destination), r.Ttl, r.WhenFull)),
            o.Upstreams.Keys);

    /// <summary>
    /// The binder's message for an unknown key names the options type, not the key: turn it into the
    /// key an operator wrote (<c>Gateway:Mqtt:Prot</c>).
    /// </summary>
    private static string DescribeBindingError(string message)
    {
        const string marker = "were not found on the instance of ";
        var at = message.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0) return message.Split('\n')[0].Trim();
        var rest = message[(at + marker.Length)..];
        var colon = rest.IndexOf(':');
        var typeName = rest[..colon].Split('.')[^1];
        var section = typeName switch
        {
            nameof(GatewayOptions) => "Gateway",
            nameof(MqttListenerOptions) => "Gateway:Mqtt",
            nameof(HttpListenerOptions) => "Gateway:Http",
            nameof(StompListenerOptions) => "Gateway:Stomp",
            nameof(OutboxSettings) => "Gateway:Outbox",
            nameof(UpstreamSettings) => "Gateway:Upstreams:<name>",
            nameof(RouteSettings) => "Gateway:Routes:<n>",
            _ => typeName,
        };
        var keys = rest[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(k => $"{section}:{k.Trim('\'')}");
        return $"unknown setting {string.Join(", ", keys)} (check the spelling; see README)";
    }

    /// <summary>The host name, made fit for a message id prefix.</summary>
    private static string DefaultId()
    {
        var name = new string(Environment.MachineName.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.').ToArray());
        return name.Length > 0 ? name[..Math.Min(name.Length, 64)] : "gateway";
    }

    /// <summary>A URI with any password replaced, so an error message never carries a secret.</summary>
    internal static string Redact(string endpoint) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':')
            ? endpoint.Replace(uri.UserInfo, uri.UserInfo[..uri.UserInfo.IndexOf(':')] + ":***", StringComparison.Ordinal)
            : endpoint;
}
