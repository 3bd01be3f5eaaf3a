namespace Gateway.Mqtt;

/// <summary>
/// A shared subscription's topic filter, <c>$share/{ShareName}/{filter}</c> (MQTT 5.0 section 4.8.2),
/// and the stand-in filter MQTTnet keeps in the session for it.
/// </summary>
/// <remarks>
/// MQTTnet refuses every <c>$share/</c> filter before any interceptor sees it
/// (MQTTnet.Server/Internal/MqttClientSubscriptionsManager.cs:478), so the gateway hands it a
/// <see cref="Marker"/> instead: a valid filter under <c>$gateway-share/</c>, which MQTTnet keeps in the
/// session (and a persistent session keeps across reconnects) like any subscription, but which no
/// message ever matches: clients may not publish to <c>$</c> topics, and the only <c>$</c> topics the
/// gateway delivers are its own <c>$SYS/</c> ones. The gateway delivers to the group itself.
/// One small class on purpose: whatever else checks filters asks it whether one is a shared one.
/// </remarks>
public readonly record struct SharedSubscriptionFilter(string ShareName, string TopicFilter)
{
    public const string Prefix = "$share/";

    /// <summary>The first level of every stand-in filter: a <c>$</c> topic nobody may publish to.</summary>
    public const string MarkerPrefix = "$gateway-share/";

    /// <summary>The stand-in for a <c>$share/</c> filter that breaks MQTT-4.8.2-1/2: refused in SUBACK, never kept.</summary>
    public const string InvalidMarker = "$gateway-share-invalid";

    /// <summary>The filter MQTTnet keeps for this shared subscription.</summary>
    public string Marker => MarkerPrefix + ShareName + "/" + TopicFilter;

    /// <summary>What the client subscribed to, as it wrote it.</summary>
    public override string ToString() => Prefix + ShareName + "/" + TopicFilter;

    /// <summary>Whether the client means a shared subscription (valid or not).</summary>
    public static bool IsShared(string filter) => filter.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>
    /// Reads <c>$share/{ShareName}/{filter}</c>. False when it breaks the rules: MQTT-4.8.2-1 (a
    /// ShareName at least one character long) and MQTT-4.8.2-2 (no <c>/</c>, <c>+</c> or <c>#</c> in it,
    /// followed by <c>/</c> and a topic filter, itself a valid one: MQTT-4.7.1).
    /// </summary>
    public static bool TryParse(string filter, out SharedSubscriptionFilter shared)
    {
        shared = default;
        if (!IsShared(filter)) return false;
        var rest = filter.AsSpan(Prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0) return false; // no ShareName, or nothing after it
        var shareName = rest[..slash];
        if (shareName.IndexOfAny('+', '#') >= 0) return false;
        var topicFilter = rest[(slash + 1)..];
        if (!IsValidTopicFilter(topicFilter)) return false;
        shared = new SharedSubscriptionFilter(shareName.ToString(), topicFilter.ToString());
        return true;
    }

    /// <summary>Reads a stand-in filter back (from MQTTnet's events, or a session restored after a restart).</summary>
    public static bool TryParseMarker(string marker, out SharedSubscriptionFilter shared)
    {
        shared = default;
        if (!marker.StartsWith(MarkerPrefix, StringComparison.Ordinal)) return false;
        var rest = marker.AsSpan(MarkerPrefix.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0 || slash == rest.Length - 1) return false;
        shared = new SharedSubscriptionFilter(rest[..slash].ToString(), rest[(slash + 1)..].ToString());
        return true;
    }

    /// <summary>
    /// MQTT-4.7.1: not empty, <c>#</c> only as a whole last level, <c>+</c> only as a whole level, no U+0000
    /// (MQTT-1.5.4-2).
    /// </summary>
    private static bool IsValidTopicFilter(ReadOnlySpan<char> filter)
    {
        if (filter.IsEmpty || filter.Contains('\0')) return false;
        var levels = 0;
        foreach (var range in filter.Split('/'))
        {
            var level = filter[range];
            var last = range.End.GetOffset(filter.Length) == filter.Length;
            levels++;
            if (level.Contains('#') && (level.Length != 1 || !last)) return false;
            if (level.Contains('+') && level.Length != 1) return false;
        }
        return levels > 0;
    }
}
