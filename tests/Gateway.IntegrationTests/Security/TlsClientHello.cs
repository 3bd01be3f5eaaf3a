using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// A ClientHello written byte by byte, so a test can offer exactly TLS 1.0, 1.1 or 1.2 whatever this
/// machine's OpenSSL still lets a client library send (Debian's refuses to offer 1.0/1.1 at its default
/// security level), and read the server's first record: an alert, or the start of a ServerHello.
/// </summary>
internal static class TlsClientHello
{
    public const ushort Tls10 = 0x0301;
    public const ushort Tls11 = 0x0302;
    public const ushort Tls12 = 0x0303;

    /// <summary>What the server answered first (RFC 5246 section 6.2.1 record, 7.2 alert, 7.4 handshake).</summary>
    public sealed record Answer(byte ContentType, byte First, byte Second)
    {
        public bool IsProtocolVersionAlert => ContentType == 21 && Second == 70; // alert, protocol_version
        public bool IsServerHello => ContentType == 22 && First == 2; // handshake, server_hello
        public override string ToString() => $"record type {ContentType}, then {First}, {Second}";
    }

    public static async Task<Answer> OfferAsync(int port, ushort version)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Build(version));
        using var deadline = new CancellationTokenSource(Patience.Reaction);
        var header = new byte[7]; // 5 bytes of record header, then the first two of its fragment
        await stream.ReadExactlyAsync(header, deadline.Token);
        return new Answer(header[0], header[5], header[6]);
    }

    private static byte[] Build(ushort version)
    {
        // ECDHE and plain RSA suites, GCM and the CBC ones TLS 1.0/1.1 servers answer with.
        ushort[] suites = [0xc02f, 0xc030, 0x009c, 0xc013, 0xc014, 0x002f, 0x0035];
        byte[] extensions =
        [
            .. Extension(10, [0, 4, 0, 0x1d, 0, 0x17]),             // supported_groups: x25519, secp256r1
            .. Extension(11, [1, 0]),                               // ec_point_formats: uncompressed
            .. Extension(13, [0, 6, 0x08, 0x04, 0x04, 0x01, 0x02, 0x01]), // signature_algorithms: rsa_pss_rsae_sha256, rsa_pkcs1_sha256, rsa_pkcs1_sha1
        ];
        byte[] body =
        [
            .. U16(version), .. RandomNumberGenerator.GetBytes(32),
            0, // no session id
            .. U16((ushort)(suites.Length * 2)), .. suites.SelectMany(U16),
            1, 0, // compression: null only
            .. U16((ushort)extensions.Length), .. extensions,
        ];
        byte[] handshake = [1, 0, .. U16((ushort)body.Length), .. body]; // client_hello, 24-bit length
        return [22, 3, 1, .. U16((ushort)handshake.Length), .. handshake];
    }

    private static byte[] Extension(ushort type, byte[] data) => [.. U16(type), .. U16((ushort)data.Length), .. data];

    private static byte[] U16(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        return bytes;
    }
}
