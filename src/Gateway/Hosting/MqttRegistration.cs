using Gateway.Configuration;
using Gateway.Mqtt;
using Gateway.Mqtt.Sessions;
using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>The MQTT part: ingest, kept state (retained messages, persistent sessions) and the listener, started after the store and the forwarders.</summary>
internal static class MqttRegistration
{
    public static IServiceCollection AddMqtt(this IServiceCollection services)
    {
        services.AddSingleton<MqttIngest>();
        // Its own fdatasync, not the outbox's IDiskSync: tests that observe the outbox's syncs see only those.
        services.AddSingleton(sp => new MqttStateStore(
            Path.Combine(sp.GetRequiredService<GatewayOptions>().DataPath, "mqtt-state.log"),
            FsyncDiskSync.Instance,
            sp.GetRequiredService<ILogger<MqttStateStore>>()));
        services.AddSingleton<RetainedMessageStore>();
        services.AddSingleton<PersistentSessions>();
        services.AddSingleton<MqttListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttListenerService>());
        return services;
    }
}
