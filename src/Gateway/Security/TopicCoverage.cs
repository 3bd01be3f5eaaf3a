using Gateway.Core.Routing;

namespace Gateway.Security;

/// <summary>
/// How MQTT topic filters relate, level by level (MQTT 5.0 section 4.7): whether a filter matches a
/// topic, and whether one filter covers another (every topic the second matches, the first matches too).
/// </summary>
/// <remarks>
/// A filter that starts with a wildcard matches no topic that starts with <c>$</c> [MQTT-4.7.2-1], so
/// <c>#</c> granted neither matches <c>$SYS/broker/uptime</c> nor covers <c>$SYS/#</c>: the <c>$</c>
/// topics need a rule of their own, as in Mosquitto. Allocation free: it runs per delivered message.
/// Matching is the routes' (<see cref="TopicFilter"/>); covering is the ACL's own question.
/// </remarks>
public static class TopicCoverage
{
    /// <summary>Whether <paramref name="topic"/> (no wildcards) is one of <paramref name="filter"/>'s.</summary>
    public static bool Matches(string filter, string topic) => TopicFilter.Matches(filter, topic);

    /// <summary>
    /// Whether every topic <paramref name="requested"/> matches is matched by <paramref name="granted"/>:
    /// <c>sensors/#</c> covers <c>sensors/a/+</c> and <c>sensors</c>; <c>sensors/+</c> does not cover <c>sensors/#</c>.
    /// </summary>
    public static bool Covers(string granted, string requested)
    {
        if (StartsWithDollar(requested) && StartsWithWildcard(granted)) return false;
        var grantedLevels = new Levels(granted);
        var requestedLevels = new Levels(requested);
        while (grantedLevels.Next(out var level))
        {
            if (level is "#") return true;
            if (!requestedLevels.Next(out var asked)) return false; // a/b/c does not cover a/b
            if (asked is "#") return false; // only # covers #
            if (level is "+") continue; // covers one literal level or +
            if (asked is "+" || !level.SequenceEqual(asked)) return false;
        }
        return !requestedLevels.Next(out _);
    }

    /// <summary>MQTT-4.7.1: not empty, <c>#</c> only as a whole last level, <c>+</c> only as a whole level, no U+0000.</summary>
    public static string? ProblemWithFilter(string filter) =>
        filter.Contains('\0') ? "a topic filter must not contain U+0000" : TopicFilter.Validate(filter);

    private static bool StartsWithDollar(string topic) => topic.Length > 0 && topic[0] == '$';

    private static bool StartsWithWildcard(string filter) => filter.Length > 0 && filter[0] is '+' or '#';

    /// <summary>The levels of a topic or filter, split at <c>/</c> without allocating; <c>a/</c> has two, the second empty.</summary>
    private ref struct Levels(string text)
    {
        private int _next = 0;

        public bool Next(out ReadOnlySpan<char> level)
        {
            if (_next < 0)
            {
                level = default;
                return false;
            }
            var slash = text.IndexOf('/', _next);
            if (slash < 0)
            {
                level = text.AsSpan(_next);
                _next = -1;
            }
            else
            {
                level = text.AsSpan(_next, slash - _next);
                _next = slash + 1;
            }
            return true;
        }
    }
}
