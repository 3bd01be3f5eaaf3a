using Gateway.Configuration;
using Gateway.Mqtt;
using Gateway.Mqtt.Sessions;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>The MQTT part: ingest, kept state (retained messages, persistent sessions), shared subscriptions, the listener and its $SYS topics, started after the store and the forwarders.</summary>
internal static class MqttRegistration
{
    public static IServiceCollection AddMqtt(this IServiceCollection services)
    {
        services.AddSingleton<WillDelays>();
        services.AddSingleton<MqttAuthorisation>();
        services.AddSingleton<MqttIngest>();
        // Its own fdatasync, not the outbox's IDiskSync: tests that observe the outbox's syncs see only those.
        services.AddSingleton(sp => new MqttStateStore(
            Path.Combine(sp.GetRequiredService<GatewayOptions>().DataPath, "mqtt-state.log"),
            FsyncDiskSync.Instance,
            sp.GetRequiredService<ILogger<MqttStateStore>>()));
        services.AddSingleton<MqttOutbound>();
        services.AddSingleton<RetainedMessageStore>();
        services.AddSingleton<SharedSubscriptions>();
        services.AddSingleton<PersistentSessions>();
        services.AddSingleton<MqttListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttListenerService>());
        services.AddHostedService<SysTopicsPublisher>(); // after the listener: it publishes through its server
        return services;
    }
}
