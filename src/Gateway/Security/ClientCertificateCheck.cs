using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Configuration;

namespace Gateway.Security;

/// <summary>
/// MQTT clients' TLS certificates against the CA of <c>Gateway:Tls:ClientCertificateCaFile</c>. A
/// certificate is optional (a client may still log in with a password); one that is presented must
/// chain to that CA alone, not to the machine's store, and be meant for client authentication.
/// </summary>
internal sealed class ClientCertificateCheck(X509Certificate2Collection authorities)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <exception cref="GatewayConfigurationException">The file is missing, unreadable or holds no certificate.</exception>
    public static ClientCertificateCheck Load(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new GatewayConfigurationException($"Gateway:Tls:ClientCertificateCaFile {Path.GetFullPath(caFile)}: {ex.Message}", ex);
        }
        if (authorities.Count == 0) throw new GatewayConfigurationException($"Gateway:Tls:ClientCertificateCaFile {Path.GetFullPath(caFile)}: no PEM certificate in it");
        return new ClientCertificateCheck(authorities);
    }

    /// <summary>The CN of a certificate this check accepted: the MQTT user it authenticates.</summary>
    public static string? UserOf(X509Certificate2? certificate) =>
        certificate?.GetNameInfo(X509NameType.SimpleName, forIssuer: false) is { Length: > 0 } name ? name : null;

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null) return true; // no certificate: the client authenticates otherwise, or not at all
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        if (presented is not null) chain.ChainPolicy.ExtraStore.AddRange(presented.ChainElements.Select(e => e.Certificate).ToArray());
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}
