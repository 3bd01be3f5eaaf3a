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
    // 230-239: MQTT connections (client ids, wills); 240-249: delivery to subscribers; 250-259: shared subscriptions, $SYS
    public const int MqttClientIdAssigned = 230;
    public const int MqttClientIdRejected = 231;
    public const int MqttWillDelayed = 232;
    public const int MqttWillCancelled = 233;
    public const int MqttWillPublishedAtShutdown = 234;
    public const int MqttWillDue = 235;
    public const int MqttWillsNotStored = 236;
    public const int SharedSubscriptionJoined = 250;
    public const int SharedSubscriptionProtocolError = 251;
    public const int SharedDeliveriesRedelivered = 252;
    public const int SysTopicsFailed = 253;

    // 260-269: kept MQTT state (persistent sessions, retained messages)
    public const int MqttStateOpened = 260;
    public const int MqttStateTornTail = 261;
    public const int MqttStateWriteFailed = 262;
    public const int MqttSessionExpired = 263;
    public const int MqttSessionQueueFull = 264;
    public const int MqttSessionRestored = 265;
    public const int MqttSessionDisconnectInterval = 266;

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
    public const int UpstreamBlocked = 408;
    public const int UpstreamUnblocked = 409;
    public const int UpstreamReconnected = 410;
    public const int UpstreamReconnectNow = 411;

    // 5xx: security. 500-509 files and users (ReloadingFile, passwords), 510-519 ACL,
    // 520-529 TLS, 530-549 limits, 550-559 the HTTP side.
    public const int SecurityFileReloaded = 500;
    public const int SecurityFileRefused = 501;
    public const int AuthStartState = 502;
    public const int AuthAnonymousEverywhere = 503;
    public const int LoginFailed = 504;
    public const int LoginHeldBack = 505;
    public const int AnonymousRefused = 506;
    public const int HttpUserRefused = 550;

    // 7xx: the appliance: the front panel (LEDs, button), 710-719 systemd
    public const int WatchdogOn = 710;
    public const int WatchdogWithheld = 711;
    public const int WatchdogResumed = 712;

    public const int FrontPanelOff = 700;
    public const int FrontPanelStarted = 701;
    public const int FrontPanelButton = 702;
    public const int FrontPanelFault = 703;
    public const int FrontPanelFailed = 704;
    // 620-629: the status dashboard
    public const int StatusSampleFailed = 620;
    public const int TlsCertificateLoaded = 520;
    public const int TlsCertificateRefused = 521;
    public const int TlsHandshakeFailed = 522;
    public const int TlsListening = 523;

    // 530-549: limits
    public const int LimitExceeded = 530;
    public const int AclRefused = 510;

    // 610-619: the command line and its admin API.
    public const int BacklogPurged = 610;
}
