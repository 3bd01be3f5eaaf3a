using System.Buffers.Text;
using MQTTnet;
using MQTTnet.Packets;

namespace Gateway.Mqtt;

/// <summary>
/// Message expiry towards subscribers (MQTT 5, section 3.3.2.3.3): a message whose Message Expiry Interval
/// has passed since it entered the gateway is not delivered [MQTT-3.3.2-5], and one that is carries the time
/// left [MQTT-3.3.2-6].
/// </summary>
/// <remarks>
/// When a message entered the gateway travels with it through MQTTnet (its queues, its retained messages,
/// a persistent session's queue) as a user property, <see cref="EnteredAtProperty"/>, in milliseconds since
/// 1970 UTC: set by <see cref="Stamp"/> on messages that have an expiry interval, read by
/// <see cref="EnteredAt"/>, and taken off every PUBLISH before it leaves (<see cref="WithoutStamp"/>), so no
/// client sees it and none can set it. Storing a queued message elsewhere keeps it by keeping the message's
/// user properties.
/// </remarks>
internal static class MessageExpiry
{
    public const string EnteredAtProperty = "gateway-entered-at";

    /// <summary>
    /// Records when <paramref name="message"/> entered the gateway, replacing any value a client sent;
    /// nothing for a message without an expiry interval (most), which no clock concerns.
    /// </summary>
    public static void Stamp(MqttApplicationMessage message, DateTimeOffset enteredAt)
    {
        if (message.MessageExpiryInterval == 0) return;
        // MQTTnet shares the list between the publisher's message and every copy made from it: a new one.
        var properties = WithoutStamp(message.UserProperties) is { } kept ? new List<MqttUserProperty>(kept) : [];
        var value = System.Text.Encoding.ASCII.GetBytes(enteredAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        properties.Add(new MqttUserProperty(EnteredAtProperty, new ReadOnlyMemory<byte>(value)));
        message.UserProperties = properties;
    }

    /// <summary>When the message with these user properties entered the gateway; null if it was not stamped.</summary>
    public static DateTimeOffset? EnteredAt(IReadOnlyList<MqttUserProperty>? properties)
    {
        if (properties is null) return null;
        for (var i = properties.Count - 1; i >= 0; i--)
        {
            if (properties[i].Name != EnteredAtProperty) continue;
            return Utf8Parser.TryParse(properties[i].ValueBuffer.Span, out long ms, out _) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
        }
        return null;
    }

    /// <summary>
    /// The Message Expiry Interval to send: false when <paramref name="interval"/> seconds have passed since
    /// <paramref name="enteredAt"/>; otherwise the whole seconds left, rounded up so a message still
    /// deliverable never carries 0 (which would mean "never expires"). An interval of 0 stays 0.
    /// </summary>
    public static bool TryRemaining(uint interval, DateTimeOffset enteredAt, DateTimeOffset now, out uint remaining)
    {
        remaining = interval;
        if (interval == 0) return true;
        var left = TimeSpan.FromSeconds(interval) - (now - enteredAt);
        if (left <= TimeSpan.Zero) return false;
        // A clock set back makes the message look younger than it is: it never gets more than it came with.
        remaining = (uint)Math.Min(interval, Math.Ceiling(left.TotalSeconds));
        return true;
    }

    /// <summary>Whether a message has expired by <paramref name="now"/>; one without an interval or a stamp never does.</summary>
    public static bool HasExpired(MqttApplicationMessage message, DateTimeOffset now) =>
        message.MessageExpiryInterval > 0 && EnteredAt(message.UserProperties) is { } enteredAt
        && !TryRemaining(message.MessageExpiryInterval, enteredAt, now, out _);

    /// <summary>The user properties without the stamp: the same list when it has none, null when nothing else is left.</summary>
    public static List<MqttUserProperty>? WithoutStamp(List<MqttUserProperty>? properties)
    {
        if (properties is null || !properties.Exists(p => p.Name == EnteredAtProperty)) return properties;
        var kept = properties.FindAll(p => p.Name != EnteredAtProperty);
        return kept.Count == 0 ? null : kept;
    }
}
