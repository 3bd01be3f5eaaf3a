using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Upstreams.Tls;

/// <summary>How an upstream's TLS certificate is checked: the system's roots, a private CA file, or (lab only) not at all.</summary>
public sealed record TlsSettings(string? CaFile = null, bool AllowUntrustedCertificate = false)
{
    public static TlsSettings Default { get; } = new();

    /// <summary>
    /// The validation callback: null means the platform default (system roots, host name checked).
    /// With a CA file, the chain must end at that CA, and the host name must still match.
    /// </summary>
    public RemoteCertificateValidationCallback? CreateCallback()
    {
        if (AllowUntrustedCertificate) return static (_, _, _, _) => true;
        if (CaFile is null) return null;

        var ca = X509CertificateLoader.LoadCertificateFromFile(CaFile);
        return (_, certificate, _, errors) =>
        {
            if (certificate is null) return false;
            // A name mismatch or a missing certificate is never excused by a private CA.
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = new X509Certificate2(certificate);
            return chain.Build(leaf);
        };
    }

    /// <summary>
    /// A failed TLS handshake, said so that an operator knows what to do; null when <paramref name="failure"/>
    /// holds no TLS failure.
    /// </summary>
    public static IOException? Explain(Exception failure, string host, int port)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is System.Security.Authentication.AuthenticationException)
                return new IOException($"TLS to {host}:{port} failed: {e.Message} (is the broker's certificate trusted? set CaFile for a private CA)", failure);
        }
        return null;
    }
}
