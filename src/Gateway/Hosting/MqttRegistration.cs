using Gateway.Mqtt;

namespace Gateway.Hosting;

/// <summary>The MQTT part: ingest, retained messages and the listener, started after the store and the forwarders.</summary>
internal static class MqttRegistration
{
    public static IServiceCollection AddMqtt(this IServiceCollection services)
    {
        services.AddSingleton<MqttIngest>();
        services.AddSingleton<MqttOutbound>();
        services.AddSingleton<RetainedMessageStore>();
        services.AddSingleton<MqttListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttListenerService>());
        return services;
    }
}
