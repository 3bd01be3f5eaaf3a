namespace Gateway.Core.Routing;

/// <summary>MQTT topic filters (MQTT 3.1.1 section 4.7, MQTT 5 section 4.7): <c>+</c> one level, <c>#</c> the rest.</summary>
public static class TopicFilter
{
    /// <summary>Why <paramref name="filter"/> is not a valid MQTT topic filter, or null when it is.</summary>
    public static string? Validate(string? filter)
    {
        if (string.IsNullOrEmpty(filter)) return "a topic filter must not be empty";
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level == "#")
            {
                if (i != levels.Length - 1) return $"'#' must be the last level of '{filter}'";
            }
            else if (level.Contains('#') || (level.Contains('+') && level != "+"))
            {
                return $"a wildcard must fill a whole level in '{filter}'";
            }
        }
        return null;
    }

    /// <summary>Whether a topic name matches a filter.</summary>
    /// <remarks>
    /// Topics starting with <c>$</c> are not matched by a filter starting with a wildcard (MQTT 4.7.2):
    /// <c>#</c> must not pick up <c>$SYS/...</c>.
    /// </remarks>
    public static bool Matches(string filter, string topic)
    {
        if (topic.Length > 0 && topic[0] == '$' && filter.Length > 0 && (filter[0] == '+' || filter[0] == '#'))
            return false;

        var f = filter.AsSpan();
        var t = topic.AsSpan();
        while (true)
        {
            var fEnd = f.IndexOf('/');
            var fLevel = fEnd < 0 ? f : f[..fEnd];
            if (fLevel is "#") return true;

            var tEnd = t.IndexOf('/');
            var tLevel = tEnd < 0 ? t : t[..tEnd];
            if (fLevel is not "+" && !fLevel.SequenceEqual(tLevel)) return false;

            if (fEnd < 0 && tEnd < 0) return true;
            if (tEnd < 0)
            {
                // "a/#" matches "a" too: the rest of the filter must be exactly "#".
                return f[(fEnd + 1)..] is "#";
            }
            if (fEnd < 0) return false;
            f = f[(fEnd + 1)..];
            t = t[(tEnd + 1)..];
        }
    }
}
