using System.Text;
using Gateway.Mqtt.Sessions;
using Gateway.Storage.LiteDb;
using Gateway.TestUtilities;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Gateway.UnitTests.Mqtt;

/// <summary>The kept MQTT state: what is written comes back whole after a reopen or a torn write, and a change is durable only after its group's sync.</summary>
public sealed class MqttStateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mqtt-state-").FullName;

    private string LogPath => Path.Combine(_dir, "mqtt-state.log");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private MqttStateStore Open(IDiskSync? sync = null)
    {
        var store = new MqttStateStore(LogPath, sync ?? FsyncDiskSync.Instance, NullLogger.Instance);
        store.Open();
        return store;
    }

    private static KeptMessage Message(MqttStateStore store, string topic, string payload, uint expiry = 0, DateTimeOffset? at = null)
    {
        var m = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithContentType("text/plain")
            .WithResponseTopic("reply/here")
            .WithCorrelationData([1, 2, 3])
            .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData)
            .WithUserProperty("site", Encoding.UTF8.GetBytes("plant-7").AsMemory())
            .WithMessageExpiryInterval(expiry)
            .Build();
        return KeptMessage.From(store.State.NextSeq(), m, MqttQualityOfServiceLevel.AtLeastOnce, at ?? DateTimeOffset.UtcNow);
    }

    private static void Keep(MqttStateStore store, string clientId, uint expiry, params string[] payloads)
    {
        lock (store.Gate)
        {
            store.Record(new StateRecord(StateRecordKind.SessionOpened, clientId, Interval: expiry));
            store.Record(new StateRecord(StateRecordKind.Subscribed, clientId,
                Subscription: new KeptSubscription("plant/#", MqttQualityOfServiceLevel.AtLeastOnce, NoLocal: true, RetainAsPublished: true, MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly)));
            var session = store.State.Sessions[clientId];
            foreach (var payload in payloads) store.Enqueue(session, Message(store, "plant/a", payload), bound: 100);
        }
    }

    [Fact]
    public async Task Sessions_subscriptions_queues_and_retained_messages_come_back_after_a_reopen_with_every_property()
    {
        using (var store = Open())
        {
            Keep(store, "dev1", 3600, "m1", "m2", "m3");
            lock (store.Gate)
            {
                var acked = store.State.Sessions["dev1"].Queue.Keys.First();
                store.Record(new StateRecord(StateRecordKind.Removed, "dev1", Number: acked));
                store.Record(new StateRecord(StateRecordKind.RetainedSet, "plant/r", Message: Message(store, "plant/r", "old")));
                store.Record(new StateRecord(StateRecordKind.RetainedSet, "plant/r", Message: Message(store, "plant/r", "new", expiry: 600)));
            }
            await store.WhenDurableAsync();
        }

        using var reopened = Open();
        var session = reopened.State.Sessions["dev1"];
        Assert.Equal(3600u, session.ExpiryIntervalSeconds);
        Assert.Equal(["m2", "m3"], session.Queue.Values.Select(m => Encoding.UTF8.GetString(m.Payload)));
        var sub = Assert.Single(session.Subscriptions.Values);
        Assert.Equal(new KeptSubscription("plant/#", MqttQualityOfServiceLevel.AtLeastOnce, true, true, MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly), sub);
        // One retained message per topic, the last one set (MQTT-3.3.1-5), with its properties.
        var retained = Assert.Single(reopened.State.Retained.Values);
        var back = retained.ToApplicationMessage(DateTimeOffset.UtcNow);
        Assert.Equal("new", Encoding.UTF8.GetString(back.Payload));
        Assert.Equal("text/plain", back.ContentType);
        Assert.Equal("reply/here", back.ResponseTopic);
        Assert.Equal([1, 2, 3], back.CorrelationData);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, back.PayloadFormatIndicator);
        Assert.Equal("plant-7", Encoding.UTF8.GetString(Assert.Single(back.UserProperties).ValueBuffer.Span));
        Assert.InRange(back.MessageExpiryInterval, 590u, 600u);
        Assert.True(reopened.State.LastSeq >= 5, "sequences go on from where they were");
    }

    [Fact]
    public async Task A_write_torn_by_a_crash_is_cut_and_everything_before_it_kept()
    {
        using (var store = Open())
        {
            Keep(store, "dev1", 60, "m1", "m2");
            await store.WhenDurableAsync();
        }
        // Half of one more frame, as a SIGKILL in the middle of an append leaves it.
        using (var file = new FileStream(LogPath, FileMode.Append))
        {
            var frame = MqttStateLog.Frame(new StateRecord(StateRecordKind.SessionDeleted, "dev1"));
            file.Write(frame.AsSpan(0, frame.Length / 2));
        }

        using (var reopened = Open())
        {
            // The torn deletion never happened: it was never synced, so nobody was told it had.
            Assert.Equal(2, reopened.State.Sessions["dev1"].Queue.Count);
        }
        using var again = Open();
        Assert.Equal(2, again.State.Sessions["dev1"].Queue.Count);
    }

    [Fact]
    public async Task A_change_is_durable_only_once_its_group_is_synced_and_changes_made_meanwhile_share_the_next_sync()
    {
        var sync = new GatedDiskSync();
        using var store = Open(sync);
        sync.Close();
        sync.Entered.Reset();
        Keep(store, "dev1", 60, "m1");
        var first = store.WhenDurableAsync();
        Assert.True(sync.Entered.Wait(TimeSpan.FromSeconds(10)), "the writer began a sync");
        Assert.False(first.IsCompleted, "durable before the sync returned");

        // While the first sync is held, 50 more changes gather into one group.
        var session = store.State.Sessions["dev1"];
        for (var i = 0; i < 50; i++)
        {
            lock (store.Gate) store.Enqueue(session, Message(store, "plant/a", $"n{i}"), bound: 100);
        }
        var second = store.WhenDurableAsync();
        var before = sync.SyncsCompleted;
        sync.Open();
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(before + 2, sync.SyncsCompleted);
        Assert.True(store.WhenDurableAsync().IsCompleted, "nothing waits when nothing changed since");
    }

    [Fact]
    public void A_full_queue_drops_its_oldest_messages_and_says_how_many()
    {
        using var store = Open();
        Keep(store, "dev1", 60);
        var session = store.State.Sessions["dev1"];
        var dropped = 0;
        lock (store.Gate)
        {
            for (var i = 0; i < 8; i++) dropped += store.Enqueue(session, Message(store, "plant/a", $"m{i}"), bound: 5);
        }
        Assert.Equal(3, dropped);
        Assert.Equal(["m3", "m4", "m5", "m6", "m7"], session.Queue.Values.Select(m => Encoding.UTF8.GetString(m.Payload)));
    }

    [Fact]
    public void The_expiry_interval_given_on_the_way_out_is_the_time_left_and_an_expired_message_is_known()
    {
        using var store = Open();
        var arrived = DateTimeOffset.UtcNow.AddSeconds(-25);
        var message = Message(store, "plant/a", "x", expiry: 60, at: arrived);
        // MQTT-3.3.2-6: the interval sent on is the received one minus the time spent waiting.
        Assert.InRange(message.ToApplicationMessage(DateTimeOffset.UtcNow).MessageExpiryInterval, 34u, 35u);
        Assert.False(message.HasExpired(arrived.AddSeconds(59)));
        Assert.True(message.HasExpired(arrived.AddSeconds(60)));
        Assert.False(Message(store, "plant/a", "y", expiry: 0, at: arrived.AddDays(-30)).HasExpired(DateTimeOffset.UtcNow), "0: no expiry");
    }

    [Fact]
    public void A_session_expires_its_interval_after_its_disconnect_and_never_with_the_largest_interval()
    {
        var at = DateTimeOffset.UtcNow;
        var session = new KeptSession("dev1", 10) { DisconnectedAt = at };
        Assert.False(session.HasExpired(at.AddSeconds(9.9)));
        Assert.True(session.HasExpired(at.AddSeconds(10)));
        session.Connected = true;
        Assert.False(session.HasExpired(at.AddSeconds(100)), "a connected session does not expire");
        var forever = new KeptSession("dev2", KeptSession.NeverExpires) { DisconnectedAt = at.AddYears(-10) };
        Assert.False(forever.HasExpired(at), "0xFFFFFFFF: the session does not expire (MQTT 5 section 3.1.2.11.2)");
    }

    [Fact]
    public async Task The_log_is_rewritten_to_what_the_state_needs_and_still_reads_back_the_same()
    {
        using (var store = Open())
        {
            Keep(store, "dev1", 60);
            var session = store.State.Sessions["dev1"];
            lock (store.Gate)
            {
                // Queued and acknowledged again and again: the log grows, the state does not.
                for (var i = 0; i < 2000; i++)
                {
                    store.Enqueue(session, Message(store, "plant/a", $"m{i}"), bound: 100);
                    if (i < 1999) store.Record(new StateRecord(StateRecordKind.Removed, "dev1", Number: session.Queue.Keys.First()));
                }
            }
            await store.WhenDurableAsync();
        }
        var grown = new FileInfo(LogPath).Length;

        using (var reopened = Open())
        {
            Assert.Equal("m1999", Encoding.UTF8.GetString(Assert.Single(reopened.State.Sessions["dev1"].Queue.Values).Payload));
        }
        Assert.True(new FileInfo(LogPath).Length < grown / 100, $"the log was rewritten at open: {new FileInfo(LogPath).Length} bytes, from {grown}");
    }

    [Fact]
    public void A_publish_carries_a_kept_message_when_topic_and_payload_are_the_same()
    {
        using var store = Open();
        var kept = Message(store, "plant/a", "hello");
        var segmented = new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("hello"));
        Assert.True(kept.IsCarriedBy(new MqttPublishPacket { Topic = "plant/a", Payload = segmented }));
        Assert.True(kept.IsCarriedBy(new MqttPublishPacket { Topic = "", Payload = segmented }), "a publish sent with a topic alias");
        Assert.False(kept.IsCarriedBy(new MqttPublishPacket { Topic = "plant/b", Payload = segmented }));
        Assert.False(kept.IsCarriedBy(new MqttPublishPacket { Topic = "plant/a", Payload = new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("hellO")) }));
    }
}
