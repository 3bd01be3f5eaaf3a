using Gateway.Core.Diagnostics;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>What happens to a member's unacknowledged shared deliveries when its connection ends.</summary>
internal sealed partial class SharedSubscriptions
{
    /// <summary>
    /// Each delivery the member had not acknowledged goes to another connected member of its group
    /// (MQTT 5.0 4.8.2: the Server MAY send it to another subscriber as soon as it loses the connection).
    /// With none connected it stays where it is if the member's session is kept (clean session off, or a
    /// session expiry): MQTTnet sends it again when the member comes back. If that session ended with the
    /// connection, it goes to the kept session of another member that is away, to wait there; with no
    /// such member it is lost with the session, and counted (<c>mqtt_shared_deliveries_lost_total</c>).
    /// </summary>
    private Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        _registry.SetConnected(e.ClientId, false);
        var waiting = _registry.TakeUnacknowledged(e.ClientId);
        if (waiting.Count == 0) return Task.CompletedTask;
        int moved = 0, kept = 0, lost = 0;
        lock (_registry.Sync)
        {
            var sessionKept = _sessions.ContainsKey(e.ClientId); // a clean session's end was reported before the disconnect
            foreach (var delivery in waiting)
            {
                if (_registry.NextOther(delivery.Group, e.ClientId, orAway: !sessionKept) is { } other && Enqueue(delivery.Group, other, delivery.Message)) moved++;
                else if (sessionKept) kept++;
                else lost++;
            }
        }
        metrics.Increment("mqtt_shared_redeliveries_total", by: moved);
        if (lost > 0) metrics.Increment("mqtt_shared_deliveries_lost_total", by: lost);
        LogRedelivered(e.ClientId, moved, kept, lost);
        return Task.CompletedTask;
    }

    /// <summary>Closes this connection only (the client may be connected again under the same id), off the receive loop.</summary>
    private Task CloseAsync(string clientId, System.Net.EndPoint remoteEndPoint, MqttDisconnectReasonCode reason)
    {
        if (Server is not { } server) return Task.CompletedTask;
        _ = Task.Run(async () =>
        {
            try
            {
                var clients = await server.GetClientsAsync().ConfigureAwait(false);
                var connection = clients.FirstOrDefault(c => c.Id == clientId && Equals(c.RemoteEndPoint, remoteEndPoint));
                if (connection is not null) await connection.DisconnectAsync(new MqttServerClientDisconnectOptions { ReasonCode = reason }).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Gone already.
            }
        });
        return Task.CompletedTask;
    }

    [LoggerMessage(EventIds.SharedSubscriptionJoined, LogLevel.Debug, "{ClientId} joined the shared subscription '{Filter}'")]
    private partial void LogJoined(string clientId, string filter);

    [LoggerMessage(EventIds.SharedSubscriptionProtocolError, LogLevel.Warning, "Closed {ClientId} with a protocol error: No Local on the shared subscription '{Filter}' (MQTT-3.8.3-4)")]
    private partial void LogProtocolError(string clientId, string filter);

    [LoggerMessage(EventIds.SharedDeliveriesRedelivered, LogLevel.Information, "{ClientId} left with unacknowledged shared deliveries: {Moved} sent to another member, {Kept} kept in its session, {Lost} lost with its session")]
    private partial void LogRedelivered(string clientId, int moved, int kept, int lost);
}
