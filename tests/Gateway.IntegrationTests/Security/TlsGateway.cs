using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// The real gateway with a certificate made by <see cref="OpenSslCertificates"/> and its three TLS
/// listeners on free ports (MQTT, HTTPS, STOMP), the plain ones too unless a test turns them off.
/// </summary>
internal sealed class TlsGateway : IAsyncDisposable
{
    private TlsGateway(OpenSslCertificates certificates, OpenSslCertificates.Issued server, GatewayProcess gateway, int mqtt, int https, int stomp)
    {
        Certificates = certificates;
        Server = server;
        Gateway = gateway;
        MqttTlsPort = mqtt;
        HttpsPort = https;
        StompTlsPort = stomp;
    }

    public OpenSslCertificates Certificates { get; }

    /// <summary>The certificate the gateway was started with.</summary>
    public OpenSslCertificates.Issued Server { get; }

    public GatewayProcess Gateway { get; }
    public int MqttTlsPort { get; }
    public int HttpsPort { get; }
    public int StompTlsPort { get; }

    /// <summary>Where the gateway reads its certificate and key: files of their own, so a test can renew them.</summary>
    public string CertificateFile => Path.Combine(Certificates.Folder, "gateway.pem");
    public string KeyFile => Path.Combine(Certificates.Folder, "gateway.key");

    /// <param name="settings">Settings over the TLS ones.</param>
    /// <param name="keyFile">Makes the key file the gateway is given (and may add settings for it); default: the server certificate's key.</param>
    public static async Task<TlsGateway> StartAsync(Dictionary<string, string>? settings = null,
        Func<OpenSslCertificates, OpenSslCertificates.Issued, Dictionary<string, string>, Task<string>>? keyFile = null)
    {
        var certificates = await OpenSslCertificates.CreateAsync();
        var server = await certificates.IssueServerAsync();
        var (mqtt, https, stomp) = (FreePort.Next(), FreePort.Next(), FreePort.Next());
        var extra = new Dictionary<string, string>(settings ?? []);
        File.Copy(server.CertificateFile, Path.Combine(certificates.Folder, "gateway.pem"));
        File.Copy(keyFile is null ? server.KeyFile : await keyFile(certificates, server, extra), Path.Combine(certificates.Folder, "gateway.key"));
        var all = new Dictionary<string, string>
        {
            ["Gateway__Tls__CertificateFile"] = Path.Combine(certificates.Folder, "gateway.pem"),
            ["Gateway__Tls__KeyFile"] = Path.Combine(certificates.Folder, "gateway.key"),
            ["Gateway__Mqtt__TlsPort"] = mqtt.ToString(),
            ["Gateway__Http__TlsPort"] = https.ToString(),
            ["Gateway__Stomp__TlsPort"] = stomp.ToString(),
        };
        foreach (var (key, value) in extra) all[key] = value;
        var gateway = new GatewayProcess(all);
        try
        {
            await gateway.StartAsync();
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        return new TlsGateway(certificates, server, gateway, mqtt, https, stomp);
    }

    /// <summary>An MQTTnet client over TLS that trusts only <paramref name="caFile"/> (the gateway's CA unless given).</summary>
    public Task<MqttTestClient> ConnectMqttAsync(string clientId, string? caFile = null, MqttProtocolVersion version = MqttProtocolVersion.V500) =>
        MqttTestClient.ConnectAsync(MqttTlsPort, clientId, version, options => options
            .WithTimeout(Patience.Reaction)
            .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithTrustChain(Trust(caFile ?? Certificates.CaFile))));

    /// <summary>The certificate the listener on <paramref name="port"/> presents to a new connection now.</summary>
    public static async Task<X509Certificate2> PresentedCertificateAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        await using var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("localhost");
        return new X509Certificate2(ssl.RemoteCertificate!);
    }

    /// <summary>A TLS stream to <paramref name="port"/> whose certificate must chain to the gateway's CA for 127.0.0.1.</summary>
    public async Task<SslStream> OpenTrustedAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(Trust(Certificates.CaFile));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", CertificateChainPolicy = policy });
        return ssl;
    }

    public static X509Certificate2Collection Trust(string caFile)
    {
        var trust = new X509Certificate2Collection();
        trust.ImportFromPemFile(caFile);
        return trust;
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        try { Directory.Delete(Certificates.Folder, recursive: true); } catch (IOException) { }
    }
}
