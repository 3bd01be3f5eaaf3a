using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;

namespace Gateway.Security;

/// <summary>
/// The TLS listeners' certificate, read from the PEM files of <c>Gateway:Tls</c> and read again when
/// either changes (a renewal): each new handshake takes the pair in force then, connections already
/// open keep theirs. A renewal writes the certificate and the key one after the other; between the
/// two the pair does not match, and the previous pair stays in force until one that matches is read.
/// </summary>
public sealed partial class ServerCertificate : IDisposable
{
    /// <summary>TLS 1.0 and 1.1 are broken (BEAST, SHA-1 handshakes) and refused by every current client anyway.</summary>
    internal const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    private readonly ReloadingFile<string> _certificateFile;
    private readonly ReloadingFile<string> _keyFile;
    private readonly string? _passphrase;
    private readonly ClientCertificateCheck? _clientCheck;
    private readonly ILogger _logger;
    private readonly Lock _reloading = new();
    private Loaded _current;

    /// <exception cref="GatewayConfigurationException">A file is missing or unreadable, or the pair does not make a certificate with its key.</exception>
    public ServerCertificate(TlsOptions options, GatewayMetrics metrics, ILogger<ServerCertificate> logger)
    {
        _logger = logger;
        HandshakeTimeout = options.HandshakeTimeout;
        _passphrase = ReadPassphrase(options);
        _certificateFile = new ReloadingFile<string>(options.CertificateFile!, "the TLS certificate (Gateway:Tls:CertificateFile)", ParsePem, logger);
        _keyFile = new ReloadingFile<string>(options.KeyFile!, "the TLS key (Gateway:Tls:KeyFile)", ParsePem, logger);
        if (options.ClientCertificateCaFile is { } caFile) _clientCheck = ClientCertificateCheck.Load(caFile);
        try
        {
            _current = Load(_certificateFile.Current, _keyFile.Current);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new GatewayConfigurationException(
                $"Gateway:Tls:CertificateFile {_certificateFile.FilePath} with Gateway:Tls:KeyFile {_keyFile.FilePath}: {Reason(ex)}", ex);
        }
        LogLoaded(Describe(_current.Leaf));
        _certificateFile.Reloaded += _ => Reload();
        _keyFile.Reloaded += _ => Reload();
        metrics.Gauge("tls_certificate_not_after_seconds", "", () => Current.NotAfter.ToUniversalTime().Subtract(DateTime.UnixEpoch).TotalSeconds);
    }

    /// <summary>The certificate new handshakes present.</summary>
    public X509Certificate2 Current => Volatile.Read(ref _current).Leaf;

    public TimeSpan HandshakeTimeout { get; }

    /// <summary>Whether clients are asked for a certificate (<c>Gateway:Tls:ClientCertificateCaFile</c>).</summary>
    public bool AsksForClientCertificates => _clientCheck is not null;

    /// <summary>The options of one handshake: the pair in force now, TLS 1.2 or 1.3 only.</summary>
    public SslServerAuthenticationOptions HandshakeOptions(bool clientCertificates = false) => new()
    {
        ServerCertificateContext = Volatile.Read(ref _current).Context,
        EnabledSslProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ClientCertificateRequired = clientCertificates && _clientCheck is not null,
        RemoteCertificateValidationCallback = clientCertificates && _clientCheck is { } check ? check.Validate : null,
    };

    /// <summary>Looks at both files now instead of at the next poll (tests).</summary>
    public void Poll()
    {
        _certificateFile.Poll();
        _keyFile.Poll();
    }

    public void Dispose()
    {
        _certificateFile.Dispose();
        _keyFile.Dispose();
    }

    private void Reload()
    {
        lock (_reloading)
        {
            try
            {
                var loaded = Load(_certificateFile.Current, _keyFile.Current);
                Volatile.Write(ref _current, loaded);
                LogLoaded(Describe(loaded.Leaf));
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                // Half a renewal (the certificate written, the key not yet): the other file's change brings the pair together.
                LogRefused(_certificateFile.FilePath, _keyFile.FilePath, Reason(ex), Describe(Current));
            }
        }
    }

    private Loaded Load(string certificatePem, string keyPem)
    {
        using var fromPem = _passphrase is null
            ? X509Certificate2.CreateFromPem(certificatePem, keyPem)
            : X509Certificate2.CreateFromEncryptedPem(certificatePem, keyPem, _passphrase);
        // Through PKCS#12 and back: the key of a PEM import is ephemeral, which Windows' TLS cannot use;
        // on Linux it works as it is, but one path everywhere is one path tested.
        var leaf = X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null);
        var all = new X509Certificate2Collection();
        all.ImportFromPem(certificatePem);
        var chain = new X509Certificate2Collection(all.Skip(1).ToArray()); // the leaf comes first; what follows is sent with it
        return new Loaded(leaf, SslStreamCertificateContext.Create(leaf, chain, offline: true));
    }

    /// <summary>Only checks that the text is PEM; the pair is made (and checked together) by <see cref="Load"/>.</summary>
    private static string ParsePem(string text) =>
        text.Contains("-----BEGIN ", StringComparison.Ordinal) ? text : throw new FormatException("it is not PEM (no -----BEGIN line)");

    private static string? ReadPassphrase(TlsOptions options)
    {
        if (options.KeyPassphraseFile is not { } file) return options.KeyPassphrase;
        try
        {
            return File.ReadLines(file).FirstOrDefault()?.TrimEnd('\r', '\n') ?? "";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var why = ex is UnauthorizedAccessException ? $"permission denied to user {Environment.UserName}" : ex.Message;
            throw new GatewayConfigurationException($"Gateway:Tls:KeyPassphraseFile {Path.GetFullPath(file)}: {why}", ex);
        }
    }

    /// <summary>The exception's own words say nothing secret (no key bytes, no passphrase); a wrong passphrase reads as a decryption failure.</summary>
    private string Reason(Exception ex) => ex switch
    {
        CryptographicException when _passphrase is not null && !ex.Message.Contains("does not match", StringComparison.Ordinal)
            => $"the key could not be read with the passphrase given ({ex.Message})",
        _ when ex.Message.Contains("does not match", StringComparison.Ordinal) => "the key does not match the certificate (or is no PEM private key)",
        _ => ex.Message,
    };

    private static string Describe(X509Certificate2 c) =>
        $"{c.Subject}, serial {c.SerialNumber}, SHA-256 {c.GetCertHashString(HashAlgorithmName.SHA256)}, valid to {c.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm}Z";

    private sealed record Loaded(X509Certificate2 Leaf, SslStreamCertificateContext Context);

    [LoggerMessage(EventIds.TlsCertificateLoaded, LogLevel.Information, "TLS certificate in force for new connections: {Certificate}")]
    private partial void LogLoaded(string certificate);

    [LoggerMessage(EventIds.TlsCertificateRefused, LogLevel.Warning,
        "Kept the TLS certificate in force ({Certificate}): {CertificateFile} with {KeyFile} changed but {Reason}; if a renewal is half written, the next change completes it")]
    private partial void LogRefused(string certificateFile, string keyFile, string reason, string certificate);
}
