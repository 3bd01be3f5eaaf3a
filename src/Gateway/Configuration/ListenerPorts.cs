namespace Gateway.Configuration;

/// <summary>
/// The ports of the six listeners (MQTT, HTTP and STOMP, each plain and over TLS): a TLS port that is
/// not set is on, at its usual number, exactly when a certificate is configured.
/// </summary>
internal static class ListenerPorts
{
    public const int MqttTlsDefault = 8883;
    public const int HttpTlsDefault = 8443;
    public const int StompTlsDefault = 61614; // ActiveMQ's stomp+ssl

    public static IEnumerable<string> Validate(string section, int port, int? tlsPort)
    {
        if (port is < 0 or > 65535) yield return $"{section}:Port must be 1-65535, or 0 for none (was {port})";
        if (tlsPort is < 0 or > 65535) yield return $"{section}:TlsPort must be 1-65535, or 0 for none (was {tlsPort})";
    }

    /// <summary>Each unset TLS port made its default with a certificate, 0 without one.</summary>
    public static GatewayOptions WithTlsDefaults(GatewayOptions o)
    {
        int Resolve(int? configured, int usual) => configured ?? (o.Tls.Enabled ? usual : 0);
        return o with
        {
            Mqtt = o.Mqtt with { TlsPort = Resolve(o.Mqtt.TlsPort, MqttTlsDefault) },
            Http = o.Http with { TlsPort = Resolve(o.Http.TlsPort, HttpTlsDefault) },
            Stomp = o.Stomp with { TlsPort = Resolve(o.Stomp.TlsPort, StompTlsDefault) },
        };
    }

    /// <summary>
    /// Across listeners: at least one is on, no two share a port (they share the host's addresses, and a
    /// clash would fail at start with a less clear message), and a TLS port has a certificate.
    /// </summary>
    public static IEnumerable<string> ValidateAll(GatewayOptions o)
    {
        var ports = new List<(string Key, int Port)>
        {
            ("Gateway:Mqtt:Port", o.Mqtt.Port), ("Gateway:Mqtt:TlsPort", o.Mqtt.TlsPort ?? 0),
            ("Gateway:Http:Port", o.Http.Port), ("Gateway:Http:TlsPort", o.Http.TlsPort ?? 0),
            ("Gateway:Stomp:Port", o.Stomp.Port), ("Gateway:Stomp:TlsPort", o.Stomp.TlsPort ?? 0),
        };
        var on = ports.Where(p => p.Port != 0).ToList();
        if (on.Count == 0) yield return $"no listener is on: {string.Join(", ", ports.Select(p => p.Key))} are all 0";
        foreach (var clash in on.GroupBy(p => p.Port).Where(g => g.Count() > 1))
            yield return $"{string.Join(" and ", clash.Select(p => p.Key))} must differ (all {clash.Key})";
        if (!o.Tls.Enabled)
        {
            foreach (var (key, _) in on.Where(p => p.Key.EndsWith(":TlsPort", StringComparison.Ordinal)))
                yield return $"{key} needs a certificate: set Gateway:Tls:CertificateFile and Gateway:Tls:KeyFile";
        }
    }
}
