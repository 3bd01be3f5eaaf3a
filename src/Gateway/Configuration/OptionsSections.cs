using System.Reflection;
using Gateway.Core.Forwarding;
using Gateway.Stomp.Server;
using Gateway.Storage.LiteDb;

namespace Gateway.Configuration;

/// <summary>
/// One configuration section: the records bound from it, and the properties of those records that
/// are not keys. Every other public settable property is a key an operator may write, with the
/// record's own default.
/// </summary>
/// <param name="Key">The section as written in a file, with <c>&lt;name&gt;</c> or <c>&lt;i&gt;</c> for the operator's names and indexes.</param>
internal sealed record OptionsSection(string Key, Type[] Records, string[] NotKeys)
{
    /// <summary>The names this section's children may have: its keys and its nested sections.</summary>
    public IReadOnlySet<string> ChildNames { get; } = Settable(Records).Select(p => p.Name).Except(NotKeys).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every key with a value (or a list of values): what docs/configuration.md lists.</summary>
    public IEnumerable<(string Key, PropertyInfo Property)> Keys() =>
        from property in Settable(Records)
        where !NotKeys.Contains(property.Name) && (IsValue(property.PropertyType) || IsValueList(property.PropertyType))
        select ($"{Key}:{property.Name}{(IsValueList(property.PropertyType) ? ":<i>" : "")}", property);

    private static IEnumerable<PropertyInfo> Settable(Type[] records) =>
        records.SelectMany(r => r.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            .Where(p => p.GetMethod?.IsPublic == true && p.SetMethod?.IsPublic == true);

    private static bool IsValue(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan);
    }

    private static bool IsValueList(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && IsValue(type.GetGenericArguments()[0]);
}

/// <summary>
/// Every section of the <c>Gateway</c> configuration and the records bound from it: the one list the
/// start-up check (a key nobody reads is refused) and the test of docs/configuration.md both use.
/// </summary>
internal static class OptionsSections
{
    public static readonly OptionsSection Gateway = new(GatewayOptions.Section, [typeof(GatewayOptions)],
        [nameof(GatewayOptions.StompSessions)]);

    public static readonly OptionsSection Mqtt = new("Gateway:Mqtt", [typeof(MqttListenerOptions)], []);

    public static readonly OptionsSection Http = new("Gateway:Http", [typeof(HttpListenerOptions)], []);

    /// <summary>
    /// The listener and the sessions share the section. Not keys: the heart-beat's two directions (one
    /// key, <c>Heartbeat</c>, sets both), the server name (the program's version), the codec's limits
    /// (the body limit is Gateway:Outbox:MaxMessageBytes) and the transaction limits, tolerance and
    /// close grace, which protect the board whatever the site.
    /// </summary>
    public static readonly OptionsSection Stomp = new("Gateway:Stomp", [typeof(StompListenerOptions), typeof(StompServerOptions)],
    [
        nameof(StompServerOptions.HeartbeatSend), nameof(StompServerOptions.HeartbeatReceive), nameof(StompServerOptions.ServerName),
        nameof(StompServerOptions.Limits), nameof(StompServerOptions.HeartbeatTolerance), nameof(StompServerOptions.MaxTransactionFrames),
        nameof(StompServerOptions.MaxOpenTransactions), nameof(StompServerOptions.MaxTransactionBytes), nameof(StompServerOptions.CloseGrace),
    ]);

    /// <summary>
    /// Not keys: the folder (Gateway:DataPath), the free-space probe (tests fake a full disk with it),
    /// and the file layout's tuning (how far behind compaction works, the log's preallocation).
    /// </summary>
    public static readonly OptionsSection Outbox = new("Gateway:Outbox", [typeof(LiteDbOutboxOptions)],
    [
        nameof(LiteDbOutboxOptions.DataPath), nameof(LiteDbOutboxOptions.FreeSpace),
        nameof(LiteDbOutboxOptions.CompactBehind), nameof(LiteDbOutboxOptions.LogPreallocateBytes),
    ]);

    /// <summary>The connection and the forwarder's batching share the section.</summary>
    public static readonly OptionsSection Upstream = new("Gateway:Upstreams:<name>", [typeof(UpstreamSettings), typeof(ForwarderOptions)],
        [nameof(UpstreamSettings.Forwarding)]);

    public static readonly OptionsSection Route = new("Gateway:Routes:<i>", [typeof(RouteSettings)], []);

    public static readonly OptionsSection Auth = new("Gateway:Auth", [typeof(AuthOptions)], []);

    public static readonly OptionsSection Hardware = new("Gateway:Hardware", [typeof(Gateway.Hardware.HardwareOptions)], []);

    public static readonly OptionsSection Tls = new("Gateway:Tls", [typeof(TlsOptions)], []);

    public static readonly OptionsSection Limits = new("Gateway:Limits", [typeof(LimitsOptions)], []);

    public static IReadOnlyList<OptionsSection> All { get; } = [Gateway, Mqtt, Http, Stomp, Outbox, Upstream, Route, Auth, Hardware, Tls, Limits];

    /// <summary>The paths of keys in <paramref name="gateway"/> that no section has, as the operator wrote them.</summary>
    public static List<string> UnknownKeys(IConfigurationSection gateway)
    {
        var unknown = new List<string>();
        void Check(IConfigurationSection configured, OptionsSection section) =>
            unknown.AddRange(configured.GetChildren().Where(c => !section.ChildNames.Contains(c.Key)).Select(c => c.Path));

        Check(gateway, Gateway);
        Check(gateway.GetSection("Mqtt"), Mqtt);
        Check(gateway.GetSection("Http"), Http);
        Check(gateway.GetSection("Stomp"), Stomp);
        Check(gateway.GetSection("Outbox"), Outbox);
        Check(gateway.GetSection("Auth"), Auth);
        Check(gateway.GetSection("Hardware"), Hardware);
        Check(gateway.GetSection("Tls"), Tls);
        Check(gateway.GetSection("Limits"), Limits);
        foreach (var upstream in gateway.GetSection("Upstreams").GetChildren()) Check(upstream, Upstream);
        foreach (var route in gateway.GetSection("Routes").GetChildren()) Check(route, Route);
        return unknown;
    }
}
