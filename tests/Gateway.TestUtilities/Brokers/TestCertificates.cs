using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.TestUtilities;

/// <summary>A private CA and a server certificate it signed for 127.0.0.1 and localhost, written to a folder.</summary>
public sealed class TestCertificates
{
    public const string KeystorePassword = "changeit";

    private TestCertificates(string folder)
    {
        CaPemFile = Path.Combine(folder, "ca.pem");
        ServerPkcs12File = Path.Combine(folder, "server.p12");
        OtherCaPemFile = Path.Combine(folder, "other-ca.pem");
        ServerCertPemFile = Path.Combine(folder, "server.pem");
        ServerKeyPemFile = Path.Combine(folder, "server-key.pem");
    }

    /// <summary>The server certificate and key as PEM files (for RabbitMQ's TLS listener).</summary>
    public string ServerCertPemFile { get; }

    public string ServerKeyPemFile { get; }

    /// <summary>The CA that signed the server certificate (what a gateway's CaFile should name).</summary>
    public string CaPemFile { get; }

    /// <summary>The server certificate and its key, for the broker's keystore.</summary>
    public string ServerPkcs12File { get; }

    /// <summary>A CA that signed nothing the broker has: trusting only it must fail.</summary>
    public string OtherCaPemFile { get; }

    public static TestCertificates Create(string folder)
    {
        var files = new TestCertificates(folder);
        var now = DateTimeOffset.UtcNow;
        using var caKey = RSA.Create(2048);
        using var ca = CreateCa("CN=Gateway Test CA", caKey, now);
        File.WriteAllText(files.CaPemFile, ca.ExportCertificatePem());

        using var otherKey = RSA.Create(2048);
        using var other = CreateCa("CN=Some Other CA", otherKey, now);
        File.WriteAllText(files.OtherCaPemFile, other.ExportCertificatePem());

        using var serverKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = request.Create(ca, now.AddDays(-1), now.AddDays(30), RandomNumberGenerator.GetBytes(8));
        using var withKey = signed.CopyWithPrivateKey(serverKey);
        File.WriteAllBytes(files.ServerPkcs12File, withKey.Export(X509ContentType.Pkcs12, KeystorePassword));
        File.WriteAllText(files.ServerCertPemFile, signed.ExportCertificatePem());
        File.WriteAllText(files.ServerKeyPemFile, serverKey.ExportPkcs8PrivateKeyPem());
        return files;
    }

    private static X509Certificate2 CreateCa(string subject, RSA key, DateTimeOffset now)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(60));
    }
}
