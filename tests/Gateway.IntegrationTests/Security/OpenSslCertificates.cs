using System.Security.Cryptography.X509Certificates;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// Certificates made with Debian's <c>openssl</c>, as an operator makes them: a private CA, server
/// certificates it signs for localhost and 127.0.0.1, a CA that signed nothing the gateway has, and
/// client certificates. Every file is PEM, in a folder of its own.
/// </summary>
internal sealed class OpenSslCertificates
{
    private int _issued;

    private OpenSslCertificates(string folder) => Folder = folder;

    public string Folder { get; }

    public string CaFile => Path.Combine(Folder, "ca.pem");

    /// <summary>A CA that signed nothing the gateway presents: a client trusting only it must refuse the gateway.</summary>
    public string OtherCaFile => Path.Combine(Folder, "other-ca.pem");

    public static async Task<OpenSslCertificates> CreateAsync()
    {
        var files = new OpenSslCertificates(Directory.CreateTempSubdirectory("gateway-tls-").FullName);
        await files.OpenSslAsync("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Gateway Test CA");
        await files.OpenSslAsync("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "30", "-subj", "/CN=Some Other CA");
        return files;
    }

    /// <summary>A new key and a server certificate for localhost and 127.0.0.1 signed by <see cref="CaFile"/>, each issue with its own serial.</summary>
    public Task<Issued> IssueServerAsync() => IssueAsync("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");

    /// <summary>A client certificate whose CN is <paramref name="user"/>, signed by <see cref="CaFile"/> (or by the other CA).</summary>
    public Task<Issued> IssueClientAsync(string user, bool byOtherCa = false) => IssueAsync(user, "extendedKeyUsage=clientAuth\n", byOtherCa ? "other-ca" : "ca");

    /// <summary>The key of <paramref name="issued"/> as encrypted PKCS#8 (AES-256), as <c>openssl pkcs8 -topk8</c> writes it.</summary>
    public async Task<string> EncryptKeyAsync(Issued issued, string passphrase)
    {
        var encrypted = issued.KeyFile + ".enc";
        await OpenSslAsync("pkcs8", "-topk8", "-in", issued.KeyFile, "-out", encrypted, "-v2", "aes-256-cbc", "-passout", $"pass:{passphrase}");
        return encrypted;
    }

    private async Task<Issued> IssueAsync(string commonName, string extensions, string ca = "ca")
    {
        var name = $"{commonName}-{Interlocked.Increment(ref _issued)}";
        var extFile = Path.Combine(Folder, name + ".ext");
        await File.WriteAllTextAsync(extFile, extensions);
        await OpenSslAsync("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", $"/CN={commonName}");
        await OpenSslAsync("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-set_serial", $"0x{Random.Shared.NextInt64():x}",
            "-out", name + ".pem", "-days", "30", "-extfile", extFile);
        var certificateFile = Path.Combine(Folder, name + ".pem");
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(certificateFile);
        return new Issued(certificateFile, Path.Combine(Folder, name + ".key"), certificate.SerialNumber, certificate.Thumbprint);
    }

    private async Task OpenSslAsync(params string[] args)
    {
        var (exit, output) = await ChildProcesses.RunAsync("/bin/sh", ["-c", $"cd '{Folder}' && exec openssl \"$@\"", "openssl", .. args]);
        if (exit != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed ({exit}): {output}");
    }

    /// <summary>A certificate and its key, as files, with what a client sees of it.</summary>
    public sealed record Issued(string CertificateFile, string KeyFile, string Serial, string Thumbprint);
}
