using Gateway.Mqtt;
using Gateway.Stomp;

namespace Gateway.Status;

/// <summary>The clients connected now: MQTT's from MQTTnet's server, STOMP's from the bridge's open sessions.</summary>
internal sealed class ConnectedClients(MqttListenerService mqtt, StompBridge stomp)
{
    public async Task<ConnectionStatus> ReadAsync()
    {
        var listed = new List<ClientStatus>();
        var mqttCount = 0;
        if (mqtt.IsRunning)
        {
            foreach (var client in await mqtt.Server.GetClientsAsync().ConfigureAwait(false))
            {
                mqttCount++;
                listed.Add(new ClientStatus(MqttProtocolName(client.ProtocolVersion), client.Id, client.RemoteEndPoint?.ToString() ?? "",
                    new DateTimeOffset(DateTime.SpecifyKind(client.ConnectedTimestamp, DateTimeKind.Utc))));
            }
        }
        var sessions = stomp.OpenSessions;
        listed.AddRange(sessions.Select(s => new ClientStatus("stomp", s.Id, s.Remote, s.ConnectedAt)));
        var shown = listed.OrderBy(c => c.ConnectedAt).Take(StatusSampler.MaxClientsListed).ToArray();
        return new ConnectionStatus(mqttCount, sessions.Count, shown);
    }

    private static string MqttProtocolName(MQTTnet.Formatter.MqttProtocolVersion version) => version switch
    {
        MQTTnet.Formatter.MqttProtocolVersion.V500 => "mqtt 5",
        MQTTnet.Formatter.MqttProtocolVersion.V311 => "mqtt 3.1.1",
        MQTTnet.Formatter.MqttProtocolVersion.V310 => "mqtt 3.1",
        _ => "mqtt",
    };
}
