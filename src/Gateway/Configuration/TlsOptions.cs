namespace Gateway.Configuration;

/// <summary>
/// The server certificate of the TLS listeners (MQTT <c>Gateway:Mqtt:TlsPort</c>, STOMP
/// <c>Gateway:Stomp:TlsPort</c>, HTTPS <c>Gateway:Http:TlsPort</c>), bound from <c>Gateway:Tls</c>.
/// No certificate: no TLS listener.
/// </summary>
public sealed record TlsOptions
{
    /// <summary>The server certificate in PEM, optionally followed by the intermediate CA certificates sent with it; re-read when it changes.</summary>
    public string? CertificateFile { get; init; }

    /// <summary>Its private key in PEM (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with a passphrase); re-read when it changes.</summary>
    public string? KeyFile { get; init; }

    /// <summary>A file whose first line is the passphrase of an encrypted key (a systemd credential, a mounted secret).</summary>
    public string? KeyPassphraseFile { get; init; }

    /// <summary>The passphrase of an encrypted key; prefer <see cref="KeyPassphraseFile"/> or the environment variable. Never logged.</summary>
    public string? KeyPassphrase { get; init; }

    /// <summary>A client that opened TCP and has not finished the TLS handshake by then is closed, so a silent socket costs a bounded time.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The CA (PEM) that MQTT clients' certificates must chain to: a client that presents one is asked for
    /// it, and one that does not chain is refused in the handshake. None: client certificates are not asked for.
    /// </summary>
    public string? ClientCertificateCaFile { get; init; }

    /// <summary>Whether a certificate is configured, and so the TLS listeners are on by default.</summary>
    public bool Enabled => CertificateFile is not null;

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        if (CertificateFile is { Length: 0 }) yield return $"{section}:CertificateFile must name a file, or be left out";
        if ((CertificateFile is null) != (KeyFile is null)) yield return $"{section}:CertificateFile and {section}:KeyFile must be set together";
        if (KeyPassphrase is not null && KeyPassphraseFile is not null) yield return $"{section}:KeyPassphraseFile must not be set together with KeyPassphrase";
        if (HandshakeTimeout < TimeSpan.FromSeconds(1) || HandshakeTimeout > TimeSpan.FromMinutes(5))
            yield return $"{section}:HandshakeTimeout must be 00:00:01 to 00:05:00 (was {HandshakeTimeout})";
        if (ClientCertificateCaFile is not null && CertificateFile is null) yield return $"{section}:ClientCertificateCaFile needs {section}:CertificateFile";
    }
}
