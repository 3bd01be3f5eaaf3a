namespace Gateway.Core.Routing;

/// <summary>
/// The one mapping between MQTT topics and dotted AMQP routing keys / STOMP destination names.
/// </summary>
/// <remarks>
/// Same rule as RabbitMQ's MQTT and STOMP plugins, so the gateway's upstream keys look like those a
/// RabbitMQ broker would produce for the same MQTT publish: <c>/</c> and <c>.</c> swap places
/// (<c>sensors/line1.a/temp</c> ↔ <c>sensors.line1/a.temp</c>), and in filters <c>+</c> ↔ <c>*</c>,
/// <c>#</c> ↔ <c>#</c>. Swapping both ways keeps the mapping reversible.
/// </remarks>
public static class TopicMapping
{
    public static string MqttTopicToDotted(string topic) => Swap(topic, '/', '.', '+', '*');

    public static string DottedToMqttTopic(string dotted) => Swap(dotted, '.', '/', '*', '+');

    private static string Swap(string value, char from, char to, char wildFrom, char wildTo)
    {
        if (value.AsSpan().IndexOfAny(from, to, wildFrom) < 0) return value;
        return string.Create(value.Length, (value, from, to, wildFrom, wildTo), static (span, s) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = s.value[i];
                span[i] = c == s.from ? s.to : c == s.to ? s.from : c == s.wildFrom ? s.wildTo : c;
            }
        });
    }
}
