namespace Gateway.Limits;

/// <summary>
/// The <c>name</c> label of <c>gateway_limits_exceeded_total</c>: which limit a client ran into. One
/// family, so one query shows every limit the gateway enforced and how often.
/// </summary>
internal static class LimitReasons
{
    public const string Metric = "limits_exceeded_total";

    public const string MaxConnections = "max_connections";
    public const string MaxConnectionsPerAddress = "max_connections_per_address";
    public const string ConnectRate = "connect_rate";
    public const string MqttConnectTimeout = "mqtt_connect_timeout";
    public const string StompConnectTimeout = "stomp_connect_timeout";
    public const string MqttPacketTooLarge = "mqtt_packet_too_large";
    public const string StompFrameTooLarge = "stomp_frame_too_large";
    public const string PublishRate = "publish_rate";
    public const string MqttSubscriptions = "mqtt_subscriptions";
    public const string StompSubscriptions = "stomp_subscriptions";
    public const string TopicLength = "topic_length";
    public const string TopicLevels = "topic_levels";
}
