using System.Buffers;
using Gateway.Configuration;
using Gateway.Core.Bus;
using Gateway.Core.Diagnostics;
using Gateway.Core.Messages;
using Gateway.Core.Outbox;
using Gateway.Core.Routing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Puts every MQTT publish through the outbox before MQTTnet acknowledges or delivers it.
/// </summary>
/// <remarks>
/// MQTTnet awaits the publish interceptor before it sends PUBACK/PUBREC and before it hands the
/// message to subscribers, so awaiting the durable commit here is exactly "ack only after the commit
/// is on disk". A refusal sets a reason code (MQTT 5) or closes the connection without an ack
/// (MQTT 3.1.1, which has no way to say no): the client keeps its message and sends it again.
/// </remarks>
internal sealed partial class MqttIngest(
    IOutbox outbox,
    RouteTable routes,
    GatewayOptions options,
    LocalBus bus,
    GatewayMetrics metrics,
    ILogger<MqttIngest> logger)
{
    private const string ProtocolVersionItem = "gateway.protocol-version";

    public Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        e.SessionItems[ProtocolVersionItem] = e.ProtocolVersion;
        return Task.CompletedTask;
    }

    public async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.SessionItems.Contains(MqttListenerService.InjectedItem)) return; // a STOMP SEND, stored already
        var application = e.ApplicationMessage;
        if (string.IsNullOrEmpty(application.Topic) || !e.ProcessPublish) return; // MQTTnet already refused it (unknown topic alias)
        metrics.Increment("mqtt_publishes_received_total");

        if (routes.IsUnrouted(application.Topic))
        {
            metrics.Increment("messages_unrouted_total");
            if (options.Unrouted == UnroutedPolicy.Local)
            {
                PublishLocally(e.ClientId, application); // local subscribers still get it; nothing to store
                return;
            }
            Refuse(e, MqttPubAckReasonCode.ImplementationSpecificError, $"no route for topic '{application.Topic}'");
            return;
        }

        var message = ToIncoming(e.ClientId, application, routes);
        try
        {
            var atMostOnce = application.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce;
            var committed = await outbox.EnqueueAsync(message, awaited: !atMostOnce, e.CancellationToken).ConfigureAwait(false);
            if (atMostOnce)
            {
                // QoS 0: stored by the same path, but nobody waits for the disk; a failure is counted and logged.
                _ = committed.ContinueWith(ReportQosZeroFailure, this, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            else
            {
                await committed.ConfigureAwait(false);
            }
            // As MQTT subscribers get it once this returns: STOMP subscribers only see what was accepted.
            PublishLocally(message);
        }
        catch (OutboxRejectedException ex)
        {
            var code = ex.Reason switch
            {
                OutboxRejection.QuotaExceeded => MqttPubAckReasonCode.QuotaExceeded,
                OutboxRejection.TooLarge => MqttPubAckReasonCode.ImplementationSpecificError,
                _ => MqttPubAckReasonCode.UnspecifiedError,
            };
            Refuse(e, code, ex.Message);
        }
        catch (OperationCanceledException) when (e.CancellationToken.IsCancellationRequested)
        {
            // The connection went away while we waited; no ack goes anywhere. The message may or may
            // not be committed: if it is, it is forwarded; if not, the client still holds it.
            e.ProcessPublish = false;
        }
    }

    /// <summary>To the local bus's (STOMP) subscribers; nothing is built when there are none, the usual case on the ingest path.</summary>
    private void PublishLocally(IncomingMessage message)
    {
        if (bus.SubscriberCount == 0) return;
        metrics.Increment("local_deliveries_total", by: bus.Publish(new LocalMessage(message.Topic, message.Payload, message.ContentType, message.UserProperties, "mqtt")));
    }

    private void PublishLocally(string clientId, MqttApplicationMessage application)
    {
        if (bus.SubscriberCount == 0) return;
        PublishLocally(ToIncoming(clientId, application, routes));
    }

    private void Refuse(InterceptingPublishEventArgs e, MqttPubAckReasonCode code, string reason)
    {
        e.ProcessPublish = false;
        var isV5 = e.SessionItems[ProtocolVersionItem] is MqttProtocolVersion.V500;
        if (isV5)
        {
            e.Response.ReasonCode = code;
            e.Response.ReasonString = reason;
        }
        else
        {
            // MQTT 3.1.1 has no negative PUBACK: closing without one tells the client to keep the message.
            e.CloseConnection = true;
        }
        metrics.Increment("mqtt_publishes_refused_total");
        LogRefused(e.ClientId, e.ApplicationMessage.Topic, isV5 ? $"reason code 0x{(int)code:x2}" : "disconnect (MQTT 3.1.1)", reason);
    }

    private static void ReportQosZeroFailure(Task task, object? state)
    {
        var self = (MqttIngest)state!;
        self.CountQosZeroFailure(task.Exception?.InnerException?.Message ?? "unknown");
    }

    private void CountQosZeroFailure(string cause)
    {
        metrics.Increment("mqtt_qos0_store_failures_total");
        LogQosZeroFailed(cause);
    }

    internal static IncomingMessage ToIncoming(string clientId, MqttApplicationMessage m, RouteTable routes)
    {
        var now = DateTimeOffset.UtcNow;
        var ownExpiry = m.MessageExpiryInterval > 0 ? now.AddSeconds(m.MessageExpiryInterval) : (DateTimeOffset?)null;
        return new IncomingMessage
        {
            Topic = m.Topic,
            // MQTTnet may reuse the buffer once the interceptor returns: the store gets its own copy.
            Payload = m.Payload.IsEmpty ? Array.Empty<byte>() : m.Payload.ToArray(),
            Qos = (QualityOfService)(int)m.QualityOfServiceLevel,
            Retain = m.Retain,
            ContentType = m.ContentType,
            CorrelationData = m.CorrelationData,
            ResponseTopic = m.ResponseTopic,
            UserProperties = m.UserProperties is { Count: > 0 } props
                ? props.Select(p => new KeyValuePair<string, string>(p.Name, System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span))).ToArray()
                : [],
            ExpiresAt = routes.ExpiryFor(m.Topic, now, ownExpiry),
            ClientId = clientId,
            ReceivedAt = now,
        };
    }

    [LoggerMessage(EventIds.PublishRefused, LogLevel.Warning, "Refused a publish from {ClientId} to '{Topic}' with {Answer}: {Reason}")]
    private partial void LogRefused(string clientId, string topic, string answer, string reason);

    [LoggerMessage(EventIds.QosZeroStoreFailed, LogLevel.Error, "A QoS 0 message could not be stored: {Cause}")]
    private partial void LogQosZeroFailed(string cause);
}
