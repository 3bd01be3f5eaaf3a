using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// MQTT clients' TLS certificates (<c>Gateway:Tls:ClientCertificateCaFile</c>): optional, and when
/// presented it must chain to that CA. Which user its CN makes is the authentication's part.
/// </summary>
public sealed class TlsClientCertificateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_certificate_of_the_configured_ca_or_none_gets_in_and_one_of_another_ca_is_refused_in_the_handshake()
    {
        await using var tls = await TlsGateway.StartAsync(keyFile: (certificates, server, settings) =>
        {
            settings["Gateway__Tls__ClientCertificateCaFile"] = certificates.CaFile;
            return Task.FromResult(server.KeyFile);
        });
        var device = await tls.Certificates.IssueClientAsync("device7");
        var stranger = await tls.Certificates.IssueClientAsync("device8", byOtherCa: true);

        await using (var withCertificate = await ConnectWithAsync(tls, "cert-device7", device))
            Assert.True((await withCertificate.PublishAsync("tls/cert", "from device7")).IsSuccess);
        await using (var withoutCertificate = await tls.ConnectMqttAsync("no-cert"))
            Assert.True((await withoutCertificate.PublishAsync("tls/cert", "no certificate")).IsSuccess);

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ConnectWithAsync(tls, "cert-stranger", stranger));
        output.WriteLine($"{refused.GetType().Name}: {refused.Message}");
        Assert.True(refused is MqttCommunicationException or AuthenticationException or IOException, refused.ToString());
        await Poll.UntilAsync(async () => await tls.Gateway.MetricAsync("tls_handshake_failures_total", "mqtt") >= 1, Patience.Reaction,
            "the refused handshake to be counted");
        Assert.Equal(2, await tls.Gateway.MetricAsync("tls_handshakes_total", "mqtt"));
    }

    private static Task<MqttTestClient> ConnectWithAsync(TlsGateway tls, string clientId, OpenSslCertificates.Issued certificate)
    {
        var pair = X509Certificate2.CreateFromPemFile(certificate.CertificateFile, certificate.KeyFile);
        return MqttTestClient.ConnectAsync(tls.MqttTlsPort, clientId, MqttProtocolVersion.V500, options => options
            .WithTimeout(Patience.Reaction)
            .WithTlsOptions(o => o.UseTls().WithTargetHost("localhost").WithTrustChain(TlsGateway.Trust(tls.Certificates.CaFile)).WithClientCertificates([pair])));
    }
}
