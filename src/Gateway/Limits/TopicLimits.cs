using System.Text;
using Gateway.Configuration;

namespace Gateway.Limits;

/// <summary>
/// The longest topic and the most levels a client may use, for MQTT topics and filters and STOMP
/// destinations alike: each topic is stored with every message, matched against every subscription,
/// and kept in memory by every subscription.
/// </summary>
internal sealed class TopicLimits(LimitsOptions options, LimitLog log)
{
    /// <summary>Null when <paramref name="topic"/> is within the limits; else why not, counted and logged as <paramref name="who"/>'s.</summary>
    /// <param name="what">How the log names it: <c>publish topic</c>, <c>subscription filter</c>...</param>
    public string? Refusal(string topic, string who, string what)
    {
        var bytes = Encoding.UTF8.GetByteCount(topic);
        string reason, why;
        if (bytes > options.MaxTopicBytes)
        {
            reason = LimitReasons.TopicLength;
            why = $"{what} of {bytes} bytes is longer than {options.MaxTopicBytes} (Gateway:Limits:MaxTopicBytes)";
        }
        else if (Levels(topic) > options.MaxTopicLevels)
        {
            reason = LimitReasons.TopicLevels;
            why = $"{what} has {Levels(topic)} levels, more than {options.MaxTopicLevels} (Gateway:Limits:MaxTopicLevels)";
        }
        else
        {
            return null;
        }
        log.Exceeded(reason, who, why + ": refused");
        return why;
    }

    private static int Levels(string topic) => topic.AsSpan().Count('/') + 1;
}
