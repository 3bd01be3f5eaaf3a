using Gateway.Configuration;
using System.Buffers;
using LiteDB;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Gateway.Mqtt;

/// <summary>Keeps MQTT retained messages across restarts (MQTTnet holds them only in memory).</summary>
/// <remarks>
/// A file of its own, apart from the outbox: retained messages are a last value per topic, replaced
/// in place and never forwarded, and keeping them out of the outbox keeps its writer to one job.
/// </remarks>
internal sealed class RetainedMessageStore(GatewayOptions options) : IDisposable
{
    private LiteDatabase? _db;

    private ILiteCollection<BsonDocument> Messages
    {
        get
        {
            if (_db is null)
            {
                Directory.CreateDirectory(options.DataPath);
                _db = new LiteDatabase(new ConnectionString { Filename = Path.Combine(options.DataPath, "retained.db"), Connection = ConnectionType.Direct });
            }
            return _db.GetCollection("retained");
        }
    }

    public Task OnLoadingAsync(LoadingRetainedMessagesEventArgs e)
    {
        lock (this)
        {
            foreach (var doc in Messages.FindAll())
            {
                e.LoadedRetainedMessages.Add(new MqttApplicationMessageBuilder()
                    .WithTopic(doc["_id"].AsString)
                    .WithPayload(doc["p"].AsBinary)
                    .WithQualityOfServiceLevel((MqttQualityOfServiceLevel)doc["q"].AsInt32)
                    .WithContentType(doc["ct"].IsNull ? null : doc["ct"].AsString)
                    .WithRetainFlag()
                    .Build());
            }
        }
        return Task.CompletedTask;
    }

    public Task OnChangedAsync(RetainedMessageChangedEventArgs e)
    {
        var m = e.ChangedRetainedMessage;
        // $SYS topics are the gateway's state now, republished every few seconds: a copy on disk would only be stale.
        if (SysTopicsPublisher.IsReserved(m.Topic)) return Task.CompletedTask;
        lock (this)
        {
            // An empty retained payload clears the topic (MQTT 3.3.1.3).
            if (m.Payload.IsEmpty) Messages.Delete(m.Topic);
            else Messages.Upsert(new BsonDocument
            {
                ["_id"] = m.Topic,
                ["p"] = BuffersExtensions.ToArray(m.Payload),
                ["q"] = (int)m.QualityOfServiceLevel,
                ["ct"] = m.ContentType,
            });
        }
        return Task.CompletedTask;
    }

    public Task OnClearedAsync(EventArgs e)
    {
        lock (this) Messages.DeleteAll();
        return Task.CompletedTask;
    }

    public void Dispose() => _db?.Dispose();
}
