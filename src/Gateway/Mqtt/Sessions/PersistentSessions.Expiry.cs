using Gateway.Core.Diagnostics;
using MQTTnet.Server;

namespace Gateway.Mqtt.Sessions;

/// <summary>The end of sessions: the interval a DISCONNECT sets, and expiry once it has passed (MQTT 5 section 3.1.2.11.2).</summary>
internal sealed partial class PersistentSessions
{
    /// <summary>How often expired sessions are looked for: an expiry interval is in whole seconds.</summary>
    private static readonly TimeSpan ExpiryCheckPeriod = TimeSpan.FromSeconds(1);

    /// <summary>How long a CONNECT's flags wait for its CONNACK before they are taken for a refused connection's.</summary>
    private static readonly TimeSpan ConnectIntentLifetime = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The connection ended: a kept session's expiry clock starts, with the interval of the DISCONNECT if
    /// it sent one (MQTT-3.14.2-2 forbids one above 0 when CONNECT's was 0: that session still ends now).
    /// </summary>
    private async Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType == MqttClientDisconnectType.Takeover) return; // the session goes on with the new connection
        var now = DateTimeOffset.UtcNow;
        var endsNow = false;
        lock (store.Gate)
        {
            if (store.State.Sessions.TryGetValue(e.ClientId, out var kept))
            {
                if (!kept.Connected) return; // taken over meanwhile and the new connection gone as well
                var interval = e.SessionExpiryInterval != 0 ? e.SessionExpiryInterval : kept.ExpiryIntervalSeconds;
                kept.Connected = false;
                kept.ForgetSent();
                store.Record(new StateRecord(StateRecordKind.SessionDisconnected, e.ClientId, interval, now.ToUnixTimeMilliseconds()));
            }
            else if (e.SessionExpiryInterval != 0)
            {
                // MQTTnet keeps this session for the DISCONNECT's interval (MqttClientSessionsManager.ShouldPersistSession);
                // CONNECT asked for none, so it ends with the connection.
                endsNow = true;
            }
        }
        if (!endsNow) return;
        await DeleteFromServerAsync(e.ClientId).ConfigureAwait(false);
        LogDisconnectIntervalRefused(e.ClientId, e.SessionExpiryInterval);
    }

    /// <summary>Ends expired sessions, in the store and in MQTTnet, until <paramref name="stopping"/>.</summary>
    public async Task RunExpiryAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ExpiryCheckPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false)) await ExpireAsync(DateTimeOffset.UtcNow).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    internal async Task ExpireAsync(DateTimeOffset now)
    {
        List<string> expired;
        lock (store.Gate)
        {
            expired = store.State.Sessions.Values.Where(s => s.HasExpired(now)).Select(s => s.ClientId).ToList();
            foreach (var clientId in expired) store.Record(new StateRecord(StateRecordKind.SessionDeleted, clientId));
        }
        foreach (var (endpoint, intent) in _connecting)
        {
            if (now - intent.At > ConnectIntentLifetime) _connecting.TryRemove(endpoint, out _);
        }
        foreach (var clientId in expired)
        {
            await DeleteFromServerAsync(clientId).ConfigureAwait(false);
            metrics.Increment("mqtt_sessions_expired_total");
            LogExpired(clientId);
        }
    }

    /// <summary>Deletes MQTTnet's session of <paramref name="clientId"/> unless its client is connected again.</summary>
    private async Task DeleteFromServerAsync(string clientId)
    {
        if (Server is not { IsStarted: true } server) return;
        var clients = await server.GetClientsAsync().ConfigureAwait(false);
        if (clients.Any(c => c.Id == clientId)) return;
        var sessions = await server.GetSessionsAsync().ConfigureAwait(false);
        if (sessions.FirstOrDefault(s => s.Id == clientId) is { } session) await session.DeleteAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventIds.MqttSessionDisconnectInterval, LogLevel.Warning, "MQTT client {ClientId} sent a session expiry interval of {Interval} s on DISCONNECT after 0 on CONNECT, a protocol error (MQTT-3.14.2-2): its session ended with the connection all the same")]
    private partial void LogDisconnectIntervalRefused(string clientId, uint interval);

    [LoggerMessage(EventIds.MqttSessionExpired, LogLevel.Information, "MQTT session of {ClientId} expired and was ended")]
    private partial void LogExpired(string clientId);
}
