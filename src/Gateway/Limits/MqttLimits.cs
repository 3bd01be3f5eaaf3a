using Gateway.Configuration;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Limits;

/// <summary>
/// The limits of <c>Gateway:Limits</c> as MQTT connections meet them: admission at accept, the CONNECT
/// timeout, the publish pace, subscriptions per session and topic filters' length and levels.
/// </summary>
internal sealed class MqttLimits(LimitsOptions options, ConnectionLimiter connections, TopicLimits topics, LimitLog log, TimeProvider time)
{
    /// <summary>The session item holding the topic filters a session is subscribed to (MQTTnet does not tell how many).</summary>
    private const string SubscriptionsItem = "gateway.limits.subscriptions";

    public ConnectionLimiter Connections => connections;

    public LimitLog Log => log;

    public TimeSpan ConnectTimeout => options.ConnectTimeout;

    public TimeProvider Time => time;

    /// <summary>A pacer for one connection's publishes, or null when they are not limited.</summary>
    public PublishPacer? PacerFor(Func<string> who) =>
        PublishPacer.For(options, time, () => log.Exceeded(LimitReasons.PublishRate, who(),
            $"publishes faster than {options.PublishRatePerClient}/s (burst {options.PublishBurstPerClient}): its connection is read more slowly (Gateway:Limits:PublishRatePerClient)"));

    /// <summary>
    /// Refuses a topic filter over the topic limits (MQTT 5: 0x8F Topic Filter invalid) or one more than
    /// the session may hold (MQTT 5: 0x97 Quota exceeded); MQTT 3.1.1 has only 0x80 Failure for both,
    /// which MQTTnet writes for any code above 0x02.
    /// </summary>
    public Task OnSubscribingAsync(InterceptingSubscriptionEventArgs e)
    {
        if (!e.ProcessSubscription || e.Response.ReasonCode > MqttSubscribeReasonCode.GrantedQoS2) return Task.CompletedTask;
        var filter = e.TopicFilter.Topic ?? "";
        if (topics.Refusal(filter, $"client '{e.ClientId}'", "subscription filter") is { } why)
        {
            Refuse(e, MqttSubscribeReasonCode.TopicFilterInvalid, why);
            return Task.CompletedTask;
        }
        var held = Subscriptions(e.SessionItems);
        lock (held)
        {
            if (held.Contains(filter)) return Task.CompletedTask; // a resubscription replaces, it adds nothing
            if (held.Count >= options.MaxSubscriptionsPerClient)
            {
                var reason = $"the session holds {held.Count} subscriptions, the most allowed (Gateway:Limits:MaxSubscriptionsPerClient)";
                log.Exceeded(LimitReasons.MqttSubscriptions, $"client '{e.ClientId}'", $"subscribed to '{Shorten(filter)}': {reason}: refused");
                Refuse(e, MqttSubscribeReasonCode.QuotaExceeded, reason);
                return Task.CompletedTask;
            }
            held.Add(filter);
        }
        return Task.CompletedTask;
    }

    public Task OnUnsubscribingAsync(InterceptingUnsubscriptionEventArgs e)
    {
        var held = Subscriptions(e.SessionItems);
        lock (held) held.Remove(e.Topic);
        return Task.CompletedTask;
    }

    public void ConnectTimedOut(string remote) =>
        log.Exceeded(LimitReasons.MqttConnectTimeout, remote, $"sent no CONNECT within {options.ConnectTimeout.TotalSeconds:0.###} s: closed (Gateway:Limits:ConnectTimeout)");

    private static void Refuse(InterceptingSubscriptionEventArgs e, MqttSubscribeReasonCode code, string reason)
    {
        e.Response.ReasonCode = code;
        e.ReasonString = reason;
        e.ProcessSubscription = false;
    }

    private static HashSet<string> Subscriptions(System.Collections.IDictionary items)
    {
        // MQTTnet's session items are a ConcurrentDictionary; another IDictionary is locked while read.
        if (items is System.Collections.Concurrent.ConcurrentDictionary<object, object> concurrent)
            return (HashSet<string>)concurrent.GetOrAdd(SubscriptionsItem, static _ => new HashSet<string>(StringComparer.Ordinal));
        lock (items)
        {
            if (items[SubscriptionsItem] is not HashSet<string> held) items[SubscriptionsItem] = held = new HashSet<string>(StringComparer.Ordinal);
            return held;
        }
    }

    private static string Shorten(string topic) => topic.Length <= 80 ? topic : topic[..80] + "...";
}
