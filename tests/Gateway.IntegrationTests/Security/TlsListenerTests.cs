using System.Net.Http.Json;
using System.Security.Authentication;
using System.Text;
using Gateway.IntegrationTests.Browser;
using Gateway.IntegrationTests.Mqtt;
using MQTTnet.Exceptions;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// The TLS listeners through the real gateway, with certificates made by openssl: MQTT over TLS
/// (MQTTnet, mosquitto, MQTT.js), STOMP over TLS, HTTPS and WSS, a trusted CA accepted and an
/// untrusted one refused by each client.
/// </summary>
public sealed class TlsListenerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Mqtt_over_tls_is_accepted_by_a_client_trusting_the_ca_and_refused_by_one_trusting_another()
    {
        await using var tls = await TlsGateway.StartAsync();

        await using (var trusted = await tls.ConnectMqttAsync("tls-trusted"))
        {
            var ack = await trusted.PublishAsync("tls/a", "over tls");
            Assert.True(ack.IsSuccess, ack.ReasonString);
        }
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => tls.ConnectMqttAsync("tls-untrusted", tls.Certificates.OtherCaFile));
        output.WriteLine($"untrusted CA: {refused.GetType().Name}: {refused.Message}");
        Assert.True(refused is MqttCommunicationException or AuthenticationException, refused.ToString());
        // The stored message is the trusted client's one, and only it.
        await Poll.UntilAsync(async () => await OutboxMessagesAsync(tls) == 1, Patience.Reaction, "the trusted client's publish in the outbox");
    }

    [Fact]
    public async Task Mosquitto_clients_with_the_ca_file_publish_and_subscribe_over_tls_and_with_another_ca_are_refused()
    {
        await using var tls = await TlsGateway.StartAsync();
        string[] trusted = ["--cafile", tls.Certificates.CaFile, "-V", "mqttv5"];

        var subscriber = MosquittoClients.SubAsync(tls.MqttTlsPort, [.. trusted, "-t", "tls/mosquitto", "-C", "1", "-W", "15", "-q", "1", "-i", "tls-sub"]);
        // The subscriber's connect is not observable from here: publish until it has one (it stops at one; more are harmless).
        await Poll.UntilAsync(async () =>
        {
            var pub = await MosquittoClients.PubAsync(tls.MqttTlsPort, [.. trusted, "-t", "tls/mosquitto", "-m", "hello", "-q", "1"]);
            Assert.True(pub.ExitCode == 0, pub.Output);
            return subscriber.IsCompleted;
        }, Patience.Reaction, "mosquitto_sub to receive over TLS");
        var (subExit, received) = await subscriber;
        Assert.True(subExit == 0, received);
        Assert.Equal("hello", received.Trim());

        var untrusted = await MosquittoClients.PubAsync(tls.MqttTlsPort, ["--cafile", tls.Certificates.OtherCaFile, "-t", "tls/mosquitto", "-m", "no", "-q", "1"]);
        output.WriteLine($"untrusted CA: exit {untrusted.ExitCode}: {untrusted.Output}");
        Assert.NotEqual(0, untrusted.ExitCode);
    }

    [Fact]
    public async Task Stomp_over_tls_answers_connect_with_connected()
    {
        await using var tls = await TlsGateway.StartAsync();
        await using var ssl = await tls.OpenTrustedAsync(tls.StompTlsPort);

        await ssl.WriteAsync(Encoding.UTF8.GetBytes("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0"));
        var reply = new StringBuilder();
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(Patience.Reaction);
        while (!reply.ToString().Contains('\0'))
        {
            var read = await ssl.ReadAsync(buffer, deadline.Token);
            if (read == 0) break;
            reply.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        Assert.StartsWith("CONNECTED\n", reply.ToString());
        Assert.Contains("version:1.2", reply.ToString());
    }

    [Fact]
    public async Task Https_serves_healthz_with_the_certificate_and_a_client_trusting_another_ca_refuses_it()
    {
        await using var tls = await TlsGateway.StartAsync();

        using (var trusted = HttpsClient(tls, tls.Certificates.CaFile))
        {
            var health = await trusted.GetFromJsonAsync<System.Text.Json.JsonElement>("/healthz");
            Assert.Equal("ok", health.GetProperty("status").GetString());
        }
        using var untrusted = HttpsClient(tls, tls.Certificates.OtherCaFile);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusted.GetStringAsync("/healthz"));
        Assert.IsType<AuthenticationException>(refused.InnerException);
    }

    [Fact]
    public async Task Mqtt_js_over_wss_and_mqtts_and_stompjs_over_wss_trust_the_gateway_through_node_extra_ca_certs()
    {
        await using var tls = await TlsGateway.StartAsync();
        var environment = new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"https://localhost:{tls.HttpsPort}",
            ["GATEWAY_MQTT"] = $"mqtts://localhost:{tls.MqttTlsPort}",
            ["NODE_EXTRA_CA_CERTS"] = tls.Certificates.CaFile,
            ["BROWSER_TOPIC_PREFIX"] = "tls",
        };

        foreach (var script in new[] { "mqtt-ws.mjs", "stomp-node.mjs" })
        {
            var result = await NodeScript.RunAsync(script, environment, Patience.Delivery);
            output.WriteLine(result.Output);
            Assert.True(result.ExitCode == 0, $"{script} failed:\n{result.Output}");
            Assert.Contains("wss://localhost", result.Output);
        }

        environment["NODE_EXTRA_CA_CERTS"] = tls.Certificates.OtherCaFile;
        var untrusted = await NodeScript.RunAsync("mqtt-ws.mjs", environment, Patience.Delivery);
        output.WriteLine(untrusted.Output);
        Assert.NotEqual(0, untrusted.ExitCode);
        Assert.Contains("unable to verify the first certificate", untrusted.Output, StringComparison.OrdinalIgnoreCase);
    }

    private static HttpClient HttpsClient(TlsGateway tls, string caFile)
    {
        var trust = TlsGateway.Trust(caFile);
        var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                CertificateChainPolicy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
                {
                    TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
                    RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                },
            },
        };
        handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(trust);
        return new HttpClient(handler) { BaseAddress = new Uri($"https://localhost:{tls.HttpsPort}"), Timeout = Patience.Reaction };
    }

    private static async Task<int> OutboxMessagesAsync(TlsGateway tls)
    {
        var health = System.Text.Json.JsonDocument.Parse(await tls.Gateway.GetAsync("/healthz"));
        return health.RootElement.GetProperty("outbox").GetProperty("messages").GetInt32();
    }
}
