namespace Gateway.Core.Diagnostics;

/// <summary>Every log event id the gateway uses, in one place, so operators can filter on stable numbers.</summary>
public static class EventIds
{
    // 1xx: start-up and configuration
    public const int StoreAndForwardOnly = 101;

    // 2xx: ingest
    public const int MqttListening = 200;
    public const int PublishRefused = 201;
    public const int QosZeroStoreFailed = 203;
    public const int LocalDeliveryFailed = 204;
    public const int MqttPacketRefused = 205;
    public const int MqttAcceptFailed = 206;
    public const int MqttConnectionFailed = 207;
    public const int MqttTooLargeForClient = 240;
    public const int StompListening = 210;
    public const int StompClosed = 211;
    public const int StompDisconnected = 212;
    public const int StompFault = 213;
    public const int StompSendRefused = 214;
    public const int StompUnreceiptedStoreFailed = 215;
    public const int OriginRefused = 216;

    // 3xx: outbox
    public const int OutboxOpened = 300;
    public const int OutboxCommitFailed = 301;
    public const int OutboxClosed = 302;
    public const int OutboxSwept = 303;
    public const int OutboxCorrupt = 304;
    public const int OutboxCheckpointFailed = 305;
    public const int OutboxExpired = 306;
    public const int OutboxSweepFailed = 307;
    public const int OutboxDropped = 308;
    public const int OutboxReopened = 309;
    public const int OutboxReopenFailed = 310;
    public const int OutboxCorruptChunk = 312;
    public const int OutboxChunkRemoved = 313;
    public const int OutboxCompactionFailed = 314;
    public const int OutboxLogMended = 315;
    public const int OutboxRescanned = 317;
    public const int OutboxOpenedOnFullDisk = 318;
    public const int OutboxDiskFull = 319;
    public const int OutboxRoomAgain = 320;
    public const int OutboxWriterFailed = 321;

    // 4xx: upstreams
    public const int UpstreamConnecting = 400;
    public const int UpstreamConnected = 401;
    public const int UpstreamFailed = 402;
    public const int UpstreamRetrying = 403;
    public const int UpstreamCloseFailed = 404;
    public const int UpstreamTlsValidationOff = 405;
    public const int UpstreamCloseAbandoned = 406;
    public const int ForwarderDied = 407;
}
