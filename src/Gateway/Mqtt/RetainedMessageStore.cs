using Gateway.Configuration;
using Gateway.Mqtt.Sessions;
using LiteDB;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>
/// Keeps MQTT retained messages across restarts and crashes (MQTTnet holds them only in memory): one per
/// topic, with every property and the time it arrived, in <see cref="MqttStateStore"/>'s log. A change is
/// on disk before the ack of the publish that made it (MQTTnet reports the change while it delivers the
/// message, and the gateway's delivery waits for <see cref="MqttStateStore.WhenDurableAsync"/>).
/// </summary>
internal sealed class RetainedMessageStore(MqttStateStore store, GatewayOptions options)
{
    /// <summary>Where earlier versions kept them, without their properties and never synced: read once, then set aside.</summary>
    private string LegacyPath => Path.Combine(options.DataPath, "retained.db");

    public Task OnLoadingAsync(LoadingRetainedMessagesEventArgs e)
    {
        ImportLegacy();
        var now = DateTimeOffset.UtcNow;
        lock (store.Gate)
        {
            foreach (var kept in store.State.Retained.Values.ToList())
            {
                // Past its expiry interval it is no longer retained (MQTT-3.3.2-5).
                if (kept.HasExpired(now)) store.Record(new StateRecord(StateRecordKind.RetainedCleared, kept.Topic));
                else e.LoadedRetainedMessages.Add(kept.ToApplicationMessage(now));
            }
        }
        return Task.CompletedTask;
    }

    public Task OnChangedAsync(RetainedMessageChangedEventArgs e)
    {
        var m = e.ChangedRetainedMessage;
        // $SYS topics are the gateway's state now, republished every few seconds: a copy on disk would only be stale.
        if (SysTopicsPublisher.IsReserved(m.Topic)) return Task.CompletedTask;
        lock (store.Gate)
        {
            // An empty retained payload clears the topic (MQTT-3.3.1-6/7).
            if (m.Payload.IsEmpty) store.Record(new StateRecord(StateRecordKind.RetainedCleared, m.Topic));
            else store.Record(new StateRecord(StateRecordKind.RetainedSet, m.Topic,
                Message: KeptMessage.From(store.State.NextSeq(), m, m.QualityOfServiceLevel, DateTimeOffset.UtcNow) with { Retain = true }));
        }
        return Task.CompletedTask;
    }

    public Task OnClearedAsync(EventArgs e)
    {
        lock (store.Gate) store.Record(new StateRecord(StateRecordKind.RetainedAllCleared, ""));
        return Task.CompletedTask;
    }

    private void ImportLegacy()
    {
        if (!File.Exists(LegacyPath)) return;
        using (var db = new LiteDatabase(new ConnectionString { Filename = LegacyPath, Connection = ConnectionType.Direct, ReadOnly = true }))
        {
            var now = DateTimeOffset.UtcNow;
            lock (store.Gate)
            {
                foreach (var doc in db.GetCollection("retained").FindAll())
                {
                    var topic = doc["_id"].AsString;
                    if (store.State.Retained.ContainsKey(topic)) continue;
                    var message = new MqttApplicationMessageBuilder()
                        .WithTopic(topic)
                        .WithPayload(doc["p"].AsBinary)
                        .WithContentType(doc["ct"].IsNull ? null : doc["ct"].AsString)
                        .WithRetainFlag()
                        .Build();
                    var qos = (MqttQualityOfServiceLevel)doc["q"].AsInt32;
                    store.Record(new StateRecord(StateRecordKind.RetainedSet, topic, Message: KeptMessage.From(store.State.NextSeq(), message, qos, now)));
                }
            }
        }
        store.WhenDurableAsync().GetAwaiter().GetResult(); // on disk in the new place before the old one goes
        File.Move(LegacyPath, LegacyPath + ".imported", overwrite: true);
    }
}
