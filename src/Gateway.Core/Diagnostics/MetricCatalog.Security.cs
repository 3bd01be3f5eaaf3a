namespace Gateway.Core.Diagnostics;

// The declarations of the security parts (users, ACL, TLS, limits) and the operators' purges.
public static partial class MetricCatalog
{
    /// <summary>Where logins happen: the MQTT and STOMP listeners and the HTTP port's pages and APIs.</summary>
    private static readonly IReadOnlyList<string> LoginProtocols = ["mqtt", "stomp", "http"];

    private static readonly MetricDefinition[] Security =
    [
        Gauge("auth_users", "Users in the password file (Gateway:Auth:PasswordFile) as last read."),
        Counter("auth_logins_total", "Logins verified against the password file, by protocol.", ProtocolLabel, LoginProtocols),
        Counter("auth_logins_failed_total", "Logins refused for a wrong password or an unknown user, by protocol.", ProtocolLabel, LoginProtocols),
        Counter("auth_logins_held_back_total", "Logins refused unexamined while their source address was held back after failures, by protocol.", ProtocolLabel, LoginProtocols),
        Counter("auth_anonymous_refused_total", "Clients without a user refused (from the network with no users configured, or anywhere with users), by protocol.", ProtocolLabel, LoginProtocols),
        Counter("acl_denied_total", "Publishes, subscriptions and deliveries the ACL refused, by what was refused (mqtt_publish, mqtt_subscribe, mqtt_delivery, stomp_send, stomp_subscribe, stomp_delivery).", ReasonLabel,
            ["mqtt_publish", "mqtt_subscribe", "mqtt_delivery", "stomp_send", "stomp_subscribe", "stomp_delivery"]),
        Counter("tls_handshakes_total", "TLS handshakes completed on the MQTT over TLS listener.", ProtocolLabel, ["mqtt"]),
        Counter("tls_handshake_failures_total", "TLS handshakes on the MQTT over TLS listener that failed or timed out.", ProtocolLabel, ["mqtt"]),
        Gauge("tls_certificate_not_after_seconds", "When the listeners' certificate in force expires, Unix seconds."),
        Gauge("connections_admitted", "Connections admitted by Gateway:Limits and open now, every listener together (HTTP included)."),
        Counter("limits_exceeded_total", "Times a Gateway:Limits limit refused or slowed a client, by the limit.", ReasonLabel,
            ["max_connections", "max_connections_per_address", "connect_rate", "mqtt_connect_timeout", "stomp_connect_timeout", "mqtt_packet_too_large",
             "stomp_frame_too_large", "publish_rate", "mqtt_subscriptions", "stomp_subscriptions", "topic_length", "topic_levels"]),
        Counter("outbox_purged_total", "Messages removed from the store by an operator's purge (gateway backlog purge)."),
    ];
}
