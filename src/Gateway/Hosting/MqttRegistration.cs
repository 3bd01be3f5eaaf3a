using Gateway.Mqtt;

namespace Gateway.Hosting;

/// <summary>The MQTT part: ingest, retained messages, shared subscriptions, the listener and its $SYS topics, started after the store and the forwarders.</summary>
internal static class MqttRegistration
{
    public static IServiceCollection AddMqtt(this IServiceCollection services)
    {
        services.AddSingleton<WillDelays>();
        services.AddSingleton<MqttIngest>();
        services.AddSingleton<RetainedMessageStore>();
        services.AddSingleton<SharedSubscriptions>();
        services.AddSingleton<MqttListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttListenerService>());
        services.AddHostedService<SysTopicsPublisher>(); // after the listener: it publishes through its server
        return services;
    }
}
