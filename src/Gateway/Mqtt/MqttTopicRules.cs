using System.Text;
using System.Text.Unicode;

namespace Gateway.Mqtt;

/// <summary>
/// The rules every topic name and topic filter keeps, checked on the bytes the client sent: MQTTnet
/// decodes strings leniently (ill-formed UTF-8 turns into U+FFFD), so the checks cannot wait for its
/// packet. Each answer is null when the string keeps the rules, else what is wrong, the rule, and
/// whether that makes the packet malformed (ill-formed strings, MQTT 5.0 section 1.5.4) or, parsed
/// well, a protocol error (section 4.13.1).
/// </summary>
internal static class MqttTopicRules
{
    /// <summary>
    /// MQTT's UTF-8 encoded string (MQTT 5.0 section 1.5.4): well-formed UTF-8, no surrogate code
    /// points (Utf8.IsValid refuses both, and overlong forms) [MQTT-1.5.4-1], and no U+0000 [MQTT-1.5.4-2].
    /// </summary>
    public static (string What, string Rule, bool Malformed)? StringProblem(ReadOnlySpan<byte> utf8)
    {
        if (!Utf8.IsValid(utf8)) return ("ill-formed UTF-8", "MQTT-1.5.4-1", true);
        if (utf8.Contains((byte)0)) return ("the character U+0000", "MQTT-1.5.4-2", true);
        return null;
    }

    /// <summary>A PUBLISH's topic name: a string, not empty [MQTT-4.7.3-1], without wildcards [MQTT-3.3.2-2].</summary>
    public static (string What, string Rule, bool Malformed)? TopicNameProblem(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return ("an empty topic", "MQTT-4.7.3-1", false);
        if (StringProblem(utf8) is { } problem) return problem;
        // '+' and '#' are single bytes that never occur inside a multi-byte UTF-8 sequence.
        if (utf8.IndexOfAny((byte)'+', (byte)'#') >= 0) return ($"the wildcard in its topic '{Show(utf8)}'", "MQTT-3.3.2-2", false);
        return null;
    }

    /// <summary>
    /// A topic filter: a string, not empty [MQTT-4.7.3-1]; '#' only alone as the last level
    /// [MQTT-4.7.1-2]; '+' only as a whole level [MQTT-4.7.1-3]. A shared subscription's
    /// <c>$share/{group}/{filter}</c> keeps these rules level by level as well.
    /// </summary>
    public static (string What, string Rule, bool Malformed)? TopicFilterProblem(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return ("an empty topic filter", "MQTT-4.7.3-1", false);
        if (StringProblem(utf8) is { } problem) return problem;
        var levels = utf8;
        while (true)
        {
            var end = levels.IndexOf((byte)'/');
            var level = end < 0 ? levels : levels[..end];
            var last = end < 0;
            if (level.Contains((byte)'#') && (level.Length != 1 || !last)) return ($"the topic filter '{Show(utf8)}', where '#' is not the whole last level", "MQTT-4.7.1-2", false);
            if (level.Contains((byte)'+') && level.Length != 1) return ($"the topic filter '{Show(utf8)}', where '+' is not a whole level", "MQTT-4.7.1-3", false);
            if (last) return null;
            levels = levels[(end + 1)..];
        }
    }

    /// <summary>A well-formed string for a log line, cut short: the filter is the client's, of any length up to 64 KiB.</summary>
    private static string Show(ReadOnlySpan<byte> utf8)
    {
        const int Longest = 100;
        var text = Encoding.UTF8.GetString(utf8);
        return text.Length <= Longest ? text : text[..Longest] + "…";
    }
}
