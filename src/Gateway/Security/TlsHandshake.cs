using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Gateway.Core.Diagnostics;

namespace Gateway.Security;

/// <summary>
/// The server side of a TLS handshake on a listener the gateway runs itself (MQTT over TLS), with the
/// pair in force at that moment. It runs on the connection's own task, never the accept loop's, and
/// is given <see cref="ServerCertificate.HandshakeTimeout"/>: a client that opens TCP and never speaks
/// TLS holds a socket for that long, no more.
/// </summary>
internal sealed partial class TlsHandshake(ServerCertificate certificate, string listener, GatewayMetrics metrics, ILogger logger)
{
    /// <summary>The encrypted stream over <paramref name="transport"/>, or null (counted, logged at debug, the transport closed) when the handshake failed.</summary>
    public async Task<SslStream?> AuthenticateAsync(Stream transport, EndPoint? remote)
    {
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(certificate.HandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(certificate.HandshakeOptions(clientCertificates: true), timeout.Token).ConfigureAwait(false);
            metrics.Increment("tls_handshakes_total", listener);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            metrics.Increment("tls_handshake_failures_total", listener);
            var reason = timeout.IsCancellationRequested ? $"no handshake within {certificate.HandshakeTimeout.TotalSeconds:0.#} s" : ex.Message;
            LogFailed(listener, remote?.ToString() ?? "?", reason);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    // Debug: a port scanner or a client with the wrong CA would otherwise fill the log; the counter shows them.
    [LoggerMessage(EventIds.TlsHandshakeFailed, LogLevel.Debug, "TLS handshake on the {Listener} listener with {Remote} failed: {Reason}")]
    private partial void LogFailed(string listener, string remote, string reason);
}
