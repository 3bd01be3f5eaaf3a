namespace Gateway.Mqtt.Sessions;

/// <summary>
/// The kept MQTT state in memory: persistent sessions and retained messages. Built by applying the
/// log's records in order, at start and for every change, so what is read back is what was applied.
/// </summary>
internal sealed class MqttState
{
    public Dictionary<string, KeptSession> Sessions { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, KeptMessage> Retained { get; } = new(StringComparer.Ordinal);

    /// <summary>The highest message sequence applied; the next message gets one more.</summary>
    public long LastSeq { get; private set; }

    /// <summary>How many records a fresh log of this state holds: the measure for compaction.</summary>
    public long LiveRecords { get; private set; }

    public void Apply(StateRecord r, bool replaying = false)
    {
        switch (r.Kind)
        {
            case StateRecordKind.SessionOpened:
                if (Sessions.TryGetValue(r.Key, out var open)) open.ExpiryIntervalSeconds = r.Interval;
                else
                {
                    Sessions[r.Key] = new KeptSession(r.Key, r.Interval);
                    LiveRecords++;
                }
                break;
            case StateRecordKind.SessionDisconnected:
                if (Sessions.TryGetValue(r.Key, out var closed))
                {
                    closed.ExpiryIntervalSeconds = r.Interval;
                    closed.DisconnectedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.Number);
                }
                break;
            case StateRecordKind.SessionDeleted:
                if (Sessions.Remove(r.Key, out var gone)) LiveRecords -= 1 + gone.Subscriptions.Count + gone.Queue.Count;
                break;
            case StateRecordKind.Subscribed:
                if (Sessions.TryGetValue(r.Key, out var subscriber) && subscriber.Subscriptions.TryAdd(r.Subscription!.Filter, r.Subscription)) LiveRecords++;
                else if (subscriber is not null) subscriber.Subscriptions[r.Subscription!.Filter] = r.Subscription;
                break;
            case StateRecordKind.Unsubscribed:
                if (Sessions.TryGetValue(r.Key, out var unsubscriber) && unsubscriber.Subscriptions.Remove(r.Filter!)) LiveRecords--;
                break;
            case StateRecordKind.Queued:
                LastSeq = Math.Max(LastSeq, r.Message!.Seq);
                if (Sessions.TryGetValue(r.Key, out var queue) && queue.Queue.TryAdd(r.Message.Seq, r.Message))
                {
                    LiveRecords++;
                    if (replaying) queue.Unsent.AddLast(r.Message.Seq);
                }
                break;
            case StateRecordKind.Removed:
                if (Sessions.TryGetValue(r.Key, out var acked) && acked.Queue.Remove(r.Number)) LiveRecords--;
                break;
            case StateRecordKind.RetainedSet:
                LastSeq = Math.Max(LastSeq, r.Message!.Seq);
                if (!Retained.ContainsKey(r.Key)) LiveRecords++;
                Retained[r.Key] = r.Message; // one per topic: the last one set (MQTT-3.3.1-5)
                break;
            case StateRecordKind.RetainedCleared:
                if (Retained.Remove(r.Key)) LiveRecords--;
                break;
            case StateRecordKind.RetainedAllCleared:
                LiveRecords -= Retained.Count;
                Retained.Clear();
                break;
        }
    }

    public long NextSeq() => ++LastSeq;

    /// <summary>The records that rebuild this state, for a compacted log.</summary>
    public IEnumerable<StateRecord> ToRecords()
    {
        foreach (var m in Retained.Values) yield return new StateRecord(StateRecordKind.RetainedSet, m.Topic, Message: m);
        foreach (var s in Sessions.Values)
        {
            yield return new StateRecord(StateRecordKind.SessionOpened, s.ClientId, Interval: s.ExpiryIntervalSeconds);
            if (s.DisconnectedAt is { } at)
                yield return new StateRecord(StateRecordKind.SessionDisconnected, s.ClientId, s.ExpiryIntervalSeconds, at.ToUnixTimeMilliseconds());
            foreach (var sub in s.Subscriptions.Values) yield return new StateRecord(StateRecordKind.Subscribed, s.ClientId, Subscription: sub);
            foreach (var m in s.Queue.Values) yield return new StateRecord(StateRecordKind.Queued, s.ClientId, Message: m);
        }
    }
}
