namespace Gateway.Core.Diagnostics;

// The declarations, by part of the gateway. HELP text says what is counted and when.
public static partial class MetricCatalog
{
    private static readonly MetricDefinition[] Outbox =
    [
        Gauge("outbox_messages", "Messages stored and not yet forwarded to every upstream that owes them."),
        Gauge("outbox_payload_bytes", "Payload bytes of the stored messages."),
        Gauge("outbox_disk_free_bytes", "Free bytes on the data folder's file system at the last reading; NaN until the first."),
        Gauge("outbox_last_sequence", "Sequence number of the last message committed to disk."),
        Gauge("outbox_data_file_bytes", "Size of the store's data file."),
        Gauge("outbox_log_file_bytes", "Size of the store's log file (preallocated)."),
        Gauge("outbox_log_bytes", "Bytes of the store's log in use, to be checkpointed into the data file."),
        Counter("outbox_appended_total", "Messages committed to the store."),
        Counter("outbox_deleted_total", "Messages removed from the store (forwarded to every upstream, expired or dropped)."),
        Counter("outbox_group_commits_total", "Group commits (one fsync each)."),
        Counter("outbox_checkpoints_total", "Checkpoints of the log into the data file."),
        Counter("outbox_commit_failures_total", "Commits or checkpoints that failed (the writes are refused, the store reopened)."),
        Counter("outbox_writer_failures_total", "Times the store's writer stopped on a fault it does not expect."),
        Counter("outbox_disk_full_total", "Times a write found no room on the disk (new messages refused until there is)."),
        Counter("outbox_log_mended_total", "Torn log tails mended when the store opened."),
        Counter("outbox_corrupt_stores_total", "Stores found unreadable at start and set aside."),
        Counter("outbox_corrupt_chunks_total", "Stored chunks found corrupt when read."),
        Counter("outbox_chunks_joined_total", "Small stored chunks joined into larger ones."),
        Histogram("outbox_commit_seconds", "Time of one group commit, its fsync included."),
        Histogram("outbox_sync_seconds", "Time of one fsync of the store."),
        Histogram("outbox_checkpoint_seconds", "Time of one checkpoint of the log into the data file."),
    ];

    private static readonly MetricDefinition[] Ingest =
    [
        Counter("messages_stored_total", "Messages taken into the store, by the first route whose filter matches their topic.", RouteLabel),
        Counter("messages_refused_full_total", "Messages refused because the store is at its quota and the route rejects new ones.", RouteLabel),
        Counter("messages_refused_disk_total", "Messages refused because the disk is below its free-space watermark or full.", RouteLabel),
        Counter("messages_dropped_total", "Stored messages dropped, oldest first, to make room under the quota.", RouteLabel),
        Counter("messages_expired_total", "Stored messages removed because their route's time to live passed."),
        Counter("messages_lost_corrupt_total", "Stored messages lost in chunks found corrupt."),
        Counter("messages_unrouted_total", "Messages whose topic no route matches while upstreams are configured (handled by Gateway:Unrouted, never forwarded)."),
    ];

    private static readonly MetricDefinition[] Upstreams =
    [
        Gauge("upstream_connected", "1 while the link to the upstream is up, else 0.", UpstreamLabel),
        Gauge("upstream_down_seconds", "Seconds since the link to the upstream was last up (or since start); 0 while it is up.", UpstreamLabel),
        Gauge("upstream_endpoint_index", "Index, in its configured list, of the endpoint the upstream's link uses.", UpstreamLabel),
        Gauge("upstream_cursor", "Sequence number of the last message the upstream confirmed.", UpstreamLabel),
        Gauge("upstream_backlog_messages", "Sequence numbers committed after the upstream's cursor: the messages waiting for it when every route leads to it.", UpstreamLabel),
        Gauge("upstream_oldest_message_age_seconds", "Age of the oldest message waiting for the upstream; 0 when none waits.", UpstreamLabel),
        Gauge("upstream_drain_eta_seconds", "Backlog divided by the forward rate of the last minute; 0 when none waits, NaN when nothing is being forwarded.", UpstreamLabel),
        Gauge("upstream_blocked", "1 while the broker holds publishes back (RabbitMQ memory or disk alarm), else 0.", UpstreamLabel),
        Counter("upstream_blocked_seconds_total", "Seconds the broker has held publishes back.", UpstreamLabel),
        Counter("upstream_blocks_total", "Times the broker started holding publishes back.", UpstreamLabel),
        Counter("upstream_connects_total", "Links to the upstream established.", UpstreamLabel),
        Counter("upstream_reconnects_total", "Links established after one was lost.", UpstreamLabel),
        Counter("upstream_failures_total", "Failed connection attempts and lost links.", UpstreamLabel),
        Counter("upstream_stalls_total", "Batches the broker did not confirm in time (the link is then dropped).", UpstreamLabel),
        Counter("upstream_closes_abandoned_total", "Link closes given up on after their deadline.", UpstreamLabel),
        Counter("messages_forwarded_total", "Messages the upstream confirmed.", UpstreamLabel),
        Counter("messages_forwarded_by_route_total", "Messages confirmed by an upstream, by the route that sent them there (routes with one filter to two upstreams add up).", RouteLabel),
        Counter("messages_expired_unsent_total", "Messages not sent to the upstream because their time to live passed.", UpstreamLabel),
    ];

    private static readonly MetricDefinition[] Mqtt =
    [
        Gauge("connections_open", "Client connections open, by protocol.", ProtocolLabel, Protocols),
        Counter("connections_total", "Client connections accepted, by protocol.", ProtocolLabel, Protocols),
        Counter("mqtt_publishes_received_total", "MQTT publishes received from clients to a topic they may publish to (before the store takes or refuses them)."),
        Counter("mqtt_publishes_refused_total", "MQTT publishes refused (the store did not take them)."),
        Counter("mqtt_publishes_ignored_total", "MQTT publishes read after a refusal on an MQTT 3.1.1 connection that is closing: neither stored nor acknowledged."),
        Counter("mqtt_qos0_store_failures_total", "QoS 0 publishes the store did not take (no ack to refuse them with)."),
        Counter("mqtt_publishes_deferred_total", "Outgoing publishes held back by a client's Receive Maximum."),
        Counter("mqtt_publishes_too_large_for_client_total", "Outgoing publishes dropped, over the client's Maximum Packet Size."),
        Counter("mqtt_messages_expired_total", "Outgoing MQTT messages dropped after their Message Expiry Interval."),
        Counter("mqtt_topic_aliases_assigned_total", "Topic aliases assigned on outgoing publishes."),
        Counter("mqtt_wills_delayed_total", "Will messages held for their Will Delay Interval."),
        Counter("mqtt_wills_cancelled_total", "Delayed will messages cancelled by the client reconnecting."),
        Gauge("mqtt_sessions_kept", "Persistent MQTT sessions kept."),
        Gauge("mqtt_session_messages_kept", "Messages queued for persistent sessions."),
        Counter("mqtt_sessions_restored_total", "Persistent MQTT sessions restored at start."),
        Counter("mqtt_sessions_expired_total", "Persistent MQTT sessions ended by their expiry interval."),
        Counter("mqtt_session_messages_dropped_total", "Messages dropped from a full persistent session queue."),
        Gauge("mqtt_shared_subscriptions", "Members of MQTT shared subscription groups."),
        Gauge("mqtt_shared_unacknowledged", "Messages sent to share group members and not yet acknowledged."),
        Counter("mqtt_shared_deliveries_total", "Messages delivered to a share group member."),
        Counter("mqtt_shared_deliveries_dropped_total", "Messages a share group had no member to deliver to."),
        Counter("mqtt_shared_redeliveries_total", "Unacknowledged share group messages sent to another member."),
        Counter("mqtt_shared_deliveries_lost_total", "Unacknowledged share group messages with no member left to take them."),
        Counter("sys_topics_failures_total", "Failed publications of the $SYS topics."),
        Histogram("mqtt_ack_store_wait_seconds", "Time a QoS 1/2 publish waited for the store before its acknowledgement."),
    ];

    private static readonly MetricDefinition[] Stomp =
    [
        Counter("stomp_connections_total", "STOMP connections accepted (TCP and WebSocket)."),
        Gauge("stomp_connections_open", "STOMP connections open (TCP and WebSocket)."),
        Counter("stomp_disconnects_total", "STOMP connections the gateway closed, by reason.", ReasonLabel, ["ProtocolError", "Refused", "SlowConsumer", "Timeout"]),
        Counter("stomp_sends_received_total", "STOMP SEND frames received."),
        Counter("stomp_sends_refused_total", "STOMP SEND frames refused (the store did not take them)."),
        Counter("stomp_unreceipted_store_failures_total", "STOMP SENDs without a receipt request the store did not take."),
    ];

    private static readonly MetricDefinition[] LocalDelivery =
    [
        Gauge("local_bus_queued", "Messages queued for local delivery to subscribers."),
        Counter("local_deliveries_total", "Messages delivered to local subscribers."),
        Counter("local_delivery_failures_total", "Local deliveries that failed."),
        Counter("local_bus_full_waits_total", "Times a publisher waited for room on the full local bus."),
    ];
}
