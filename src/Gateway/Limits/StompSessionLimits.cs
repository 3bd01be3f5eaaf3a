using Gateway.Configuration;
using Gateway.Stomp.Server;

namespace Gateway.Limits;

/// <summary>
/// The limits of <c>Gateway:Limits</c> as STOMP sessions meet them (the publish pace, destinations'
/// topics), and the count of those the session enforces itself (<c>Gateway:Stomp</c>: the CONNECT
/// timeout, the frame limits, subscriptions per connection).
/// </summary>
internal sealed class StompSessionLimits(LimitsOptions options, TopicLimits topics, LimitLog log, TimeProvider time)
{
    /// <inheritdoc cref="TopicLimits.Refusal"/>
    public string? TopicRefusal(string topic, string who, string what) => topics.Refusal(topic, who, what);

    /// <inheritdoc cref="MqttLimits.PacerFor"/>
    public PublishPacer? PacerFor(string who) =>
        PublishPacer.For(options, time, () => log.Exceeded(LimitReasons.PublishRate, who,
            $"sends faster than {options.PublishRatePerClient}/s (burst {options.PublishBurstPerClient}): its connection is read more slowly (Gateway:Limits:PublishRatePerClient)"));

    /// <summary>Counts a session that ended on one of the session's own limits; any other ending is not a limit's.</summary>
    public void CountEnding(StompCloseKind? kind, string? reason, string who)
    {
        if (reason is null) return;
        var limit = kind switch
        {
            StompCloseKind.Timeout when reason.StartsWith("no CONNECT within", StringComparison.Ordinal) => LimitReasons.StompConnectTimeout,
            StompCloseKind.ProtocolError when reason.StartsWith("too many subscriptions", StringComparison.Ordinal) => LimitReasons.StompSubscriptions,
            StompCloseKind.ProtocolError when IsFrameLimit(reason) => LimitReasons.StompFrameTooLarge,
            _ => null,
        };
        if (limit is not null) log.Exceeded(limit, who, reason + ": ERROR, then closed");
    }

    /// <summary>The frame reader's refusals of a frame over <see cref="Gateway.Stomp.StompLimits"/> (StompFrameReader's messages).</summary>
    private static bool IsFrameLimit(string reason) =>
        reason.StartsWith("headers larger than", StringComparison.Ordinal) || reason.StartsWith("more than ", StringComparison.Ordinal)
        || reason.StartsWith("body larger than", StringComparison.Ordinal) || reason.StartsWith("a line longer than", StringComparison.Ordinal)
        || (reason.StartsWith("content-length ", StringComparison.Ordinal) && reason.Contains("over the limit", StringComparison.Ordinal));
}
