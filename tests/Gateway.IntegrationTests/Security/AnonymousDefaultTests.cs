using System.Net;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// Safe defaults, as Mosquitto 2: with no users, anonymous clients get in only from the gateway's own
/// machine, on every listener, while the listeners are bound to every address; from the network
/// they are refused with CONNACK 0x87 / 0x05 or a STOMP ERROR. Shown on a real non-loopback address of
/// this machine, with MQTTnet, mosquitto_pub and @stomp/stompjs.
/// </summary>
public sealed class AnonymousDefaultTests
{
    internal static Dictionary<string, string> OnEveryAddress(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Gateway__Mqtt__BindAddress"] = "0.0.0.0",
            ["Gateway__Http__BindAddress"] = "0.0.0.0",
            ["Gateway__Stomp__BindAddress"] = "0.0.0.0",
        };
        foreach (var (key, value) in more) settings[key] = value;
        return settings;
    }

    [Fact]
    public async Task Without_users_anonymous_clients_get_in_from_loopback_only_on_every_listener()
    {
        var network = LoginProbe.NonLoopbackAddress().ToString();
        await using var gateway = new GatewayProcess(OnEveryAddress());
        await gateway.StartAsync();

        // The README's first command, on the gateway's own machine: in, on every listener.
        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V311));
        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, webSocketPort: gateway.HttpPort));
        Assert.Equal(0, (await LoginProbe.MosquittoPubAsync("127.0.0.1", gateway.MqttPort)).ExitCode);
        Assert.StartsWith("CONNECTED", await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort));
        Assert.Equal("CONNECTED", await LoginProbe.StompJsAsync("127.0.0.1", gateway.HttpPort));

        // The same listeners from the machine's network address: refused, each in its protocol's words.
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await LoginProbe.MqttAsync(network, gateway.MqttPort, MqttProtocolVersion.V500)); // 0x87
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await LoginProbe.MqttAsync(network, gateway.MqttPort, MqttProtocolVersion.V311)); // 0x05
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await LoginProbe.MqttAsync(network, gateway.MqttPort, MqttProtocolVersion.V311, webSocketPort: gateway.HttpPort));
        var mosquitto = await LoginProbe.MosquittoPubAsync(network, gateway.MqttPort);
        Assert.True(mosquitto.ExitCode == 5, $"mosquitto_pub (3.1.1) should be refused as not authorised (exit 5): {mosquitto}");
        var mosquitto5 = await LoginProbe.MosquittoPubAsync(network, gateway.MqttPort, v5: true);
        Assert.True(mosquitto5.ExitCode == 0x87, $"mosquitto_pub (5.0) should get 0x87: {mosquitto5}");
        var stomp = await LoginProbe.StompTcpAsync(network, gateway.StompPort);
        Assert.StartsWith("ERROR", stomp);
        Assert.Contains("anonymous clients are accepted only on the gateway's own machine", LoginProbe.Header(stomp, "message"));
        Assert.StartsWith("ERROR not authorized", await LoginProbe.StompJsAsync(network, gateway.HttpPort));

        // The page too; the probes stay open (health checks come from the network).
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync($"http://{network}:{gateway.HttpPort}/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://{network}:{gateway.HttpPort}/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{gateway.HttpPort}/")).StatusCode);

        Assert.Equal(5, await gateway.MetricAsync("auth_anonymous_refused_total", "mqtt"));
        Assert.Equal(2, await gateway.MetricAsync("auth_anonymous_refused_total", "stomp"));
        // One line at start says how to open it to the network.
        Assert.Single(gateway.Output.Split('\n'), l => l.Contains("anonymous clients are accepted only from this machine") && l.Contains("gateway passwd") && l.Contains("AllowAnonymous"));
    }

    [Fact]
    public async Task Without_users_a_client_that_gives_a_user_name_is_refused_since_it_cannot_be_checked()
    {
        await using var gateway = new GatewayProcess();
        await gateway.StartAsync();

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, "alice", "pw"));
        var stomp = await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, "alice", "pw");
        Assert.Contains("no users are configured", LoginProbe.Header(stomp, "message"));
    }

    [Fact]
    public async Task AllowAnonymous_opens_every_listener_to_the_network_with_a_warning_at_every_start()
    {
        var network = LoginProbe.NonLoopbackAddress().ToString();
        await using var gateway = new GatewayProcess(OnEveryAddress(("Gateway__Auth__AllowAnonymous", "true")));
        await gateway.StartAsync();

        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync(network, gateway.MqttPort, MqttProtocolVersion.V311));
        Assert.Equal(0, (await LoginProbe.MosquittoPubAsync(network, gateway.MqttPort)).ExitCode);
        Assert.StartsWith("CONNECTED", await LoginProbe.StompTcpAsync(network, gateway.StompPort));
        Assert.Equal("CONNECTED", await LoginProbe.StompJsAsync(network, gateway.HttpPort));
        Assert.Single(gateway.Output.Split('\n'), l => l.Contains(" warn: ") && l.Contains("Anonymous clients are accepted from any address"));

        await gateway.StopAsync();
        await gateway.StartAsync();
        Assert.Equal(2, gateway.Output.Split('\n').Count(l => l.Contains(" warn: ") && l.Contains("Anonymous clients are accepted from any address")));
    }
}
