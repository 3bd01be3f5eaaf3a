using System.Collections.Concurrent;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.TestUtilities;

/// <summary>A real MQTTnet client as a device would use it, with what it received kept for assertions.</summary>
public sealed class MqttTestClient : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public MqttTestClient()
    {
        _client.ApplicationMessageReceivedAsync += e =>
        {
            Received.Enqueue(e.ApplicationMessage);
            return Task.CompletedTask;
        };
    }

    public ConcurrentQueue<MqttApplicationMessage> Received { get; } = new();

    public IMqttClient Client => _client;

    public bool IsConnected => _client.IsConnected;

    public static async Task<MqttTestClient> ConnectAsync(int port, string clientId,
        MqttProtocolVersion version = MqttProtocolVersion.V311, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = new MqttTestClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .WithTimeout(TimeSpan.FromSeconds(30));
        configure?.Invoke(options);
        await client._client.ConnectAsync(options.Build());
        return client;
    }

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build());

    /// <summary>Publishes <paramref name="count"/> QoS 1 messages one after another, payload <c>"{clientId}:{i}"</c>; returns the acknowledged payloads.</summary>
    public async Task<List<string>> PublishSequenceAsync(string topic, string clientId, int count, int start = 0)
    {
        var acked = new List<string>(count);
        for (var i = start; i < start + count; i++)
        {
            var payload = $"{clientId}:{i}";
            var result = await PublishAsync(topic, payload);
            if (!result.IsSuccess) throw new InvalidOperationException($"publish {payload} refused: {result.ReasonCode} {result.ReasonString}");
            acked.Add(payload);
        }
        return acked;
    }

    public Task SubscribeAsync(string filter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        _client.SubscribeAsync(filter, qos);

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try { await _client.DisconnectAsync(); } catch (Exception) { /* the gateway may already be gone */ }
        }
        _client.Dispose();
    }
}
