using System.Collections.Concurrent;
using Gateway.Security;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// The ACL on MQTT (<see cref="AccessControl"/>): SUBSCRIBE filters, and every message MQTTnet is about to
/// queue for a client, retained ones included. PUBLISHes are checked by <see cref="MqttIngest"/>, where a
/// refusal is answered as the other refusals are (<see cref="MayPublish"/>).
/// </summary>
/// <remarks>
/// The receiving side is checked per message, not only at SUBSCRIBE: a <c>deny</c> rule inside a granted
/// filter, a file changed since, or a persistent session taken over by another user all leave a
/// subscription in place whose messages the client may not read. MQTTnet's enqueue interceptor tells
/// only the receiver's client id, so each session's user is kept here from its connection until the
/// session goes.
/// </remarks>
internal sealed class MqttAuthorisation(AccessControl access)
{
    /// <summary>Each session's rules, by client id: set when a client connects, gone with its session.</summary>
    private readonly ConcurrentDictionary<string, CachedAccess> _sessions = new(StringComparer.Ordinal);

    public bool IsEnabled => access.IsEnabled;

    public void Register(MqttServer server)
    {
        server.ClientConnectedAsync += OnConnectedAsync;
        server.SessionDeletedAsync += OnSessionDeletedAsync;
        server.InterceptingSubscriptionAsync += OnSubscribingAsync;
        server.InterceptingClientEnqueueAsync += OnEnqueueAsync;
    }

    /// <summary>Null when the client may publish to <paramref name="topic"/>; otherwise the reason string for its PUBACK/PUBREC.</summary>
    public string? MayPublish(string clientId, string? user, string topic)
    {
        var decision = AccessOf(clientId, user).Current.MayWrite(topic);
        if (decision.IsAllowed) return null;
        access.Refused("mqtt_publish", clientId, user, clientId, topic, decision);
        return $"not authorized to publish to '{topic}'";
    }

    /// <summary>Whether a share group member may receive a message (its delivery bypasses MQTTnet's enqueue interceptor).</summary>
    public bool MayReceive(string clientId, string topic) => !_sessions.TryGetValue(clientId, out var session) || Check(session, topic);

    private Task OnConnectedAsync(ClientConnectedEventArgs e)
    {
        _sessions[e.ClientId] = access.For(e.UserName, e.ClientId);
        access.Forget(e.ClientId); // a new connection's first refusal is logged
        return Task.CompletedTask;
    }

    private Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        _sessions.TryRemove(e.Id, out _);
        access.Forget(e.Id);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A refused filter gets Not authorized in SUBACK (0x87; MQTT 3.1.1 has only 0x80 Failure, which
    /// MQTTnet writes for it), the packet's other filters are granted as usual [MQTT-3.9.3-1].
    /// </summary>
    private Task OnSubscribingAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        if (filter == SharedSubscriptionFilter.InvalidMarker) return Task.CompletedTask; // refused already, for its form
        // A shared subscription reads its inner filter: $share/group/sensors/# is sensors/#.
        var shown = filter;
        if (SharedSubscriptionFilter.TryParseMarker(filter, out var shared))
        {
            filter = shared.TopicFilter;
            shown = shared.ToString();
        }
        var decision = AccessOf(e.ClientId, e.UserName).Current.MaySubscribe(filter);
        if (decision.IsAllowed) return Task.CompletedTask;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        e.ReasonString = $"not authorized to subscribe to '{shown}'";
        e.ProcessSubscription = false;
        access.Refused("mqtt_subscribe", e.ClientId, e.UserName, e.ClientId, shown, decision);
        return Task.CompletedTask;
    }

    /// <summary>Every message MQTTnet queues for a session (a publish, a retained message at SUBSCRIBE, $SYS).</summary>
    private Task OnEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!e.AcceptEnqueue) return Task.CompletedTask;
        // A session kept from before a restart whose client has not connected since: its user is not known
        // (MQTTnet keeps no user with a session), and its subscriptions were checked when they were made.
        if (_sessions.TryGetValue(e.ReceiverClientId, out var session) && !Check(session, e.ApplicationMessage.Topic)) e.AcceptEnqueue = false;
        return Task.CompletedTask;
    }

    private bool Check(CachedAccess session, string topic)
    {
        var decision = session.Current.MayRead(topic);
        if (!decision.IsAllowed) access.Refused("mqtt_delivery", session.ClientId, session.User, session.ClientId, topic, decision);
        return decision.IsAllowed;
    }

    /// <summary>The connection's rules; the user it connected with is the one asked about (a session taken over by another user).</summary>
    private CachedAccess AccessOf(string clientId, string? user)
    {
        if (_sessions.TryGetValue(clientId, out var known) && known.User == user) return known;
        var fresh = access.For(user, clientId);
        _sessions[clientId] = fresh;
        return fresh;
    }
}
