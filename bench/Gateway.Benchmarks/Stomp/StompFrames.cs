using System.Buffers;
using Gateway.Stomp;

namespace Gateway.Benchmarks.Stomp;

/// <summary>The frames the codec benchmarks parse and write, encoded once by the gateway's own writer.</summary>
internal static class StompFrames
{
    public static byte[] Body(int size)
    {
        // JSON-ish printable bytes: no NUL inside, like sensor readings.
        var body = new byte[size];
        for (var i = 0; i < size; i++) body[i] = (byte)('a' + i % 26);
        return body;
    }

    /// <summary>A client's SEND with a receipt: destination, content-type, receipt, three application headers.</summary>
    public static StompFrame Send(int bodySize) => StompFrame.Create(StompCommand.Send, Body(bodySize),
        ("destination", "/queue/sensors.site1.line3.temperature"),
        ("content-type", "application/json"),
        ("receipt", "r-000123"),
        ("x-device-id", "plc-17"),
        ("x-site", "site1"),
        ("x-firmware", "4.2.1"));

    /// <summary>
    /// A broker's MESSAGE whose values need STOMP 1.2 escapes (':' as \c, a newline as \n, a backslash
    /// as \\): URNs, Windows paths, a multi-line note.
    /// </summary>
    public static StompFrame MessageWithEscapes(int bodySize) => StompFrame.Create(StompCommand.Message, Body(bodySize),
        ("destination", "/topic/sensors.site1.temperature"),
        ("message-id", "gw01:000000000042"),
        ("subscription", "sub-0"),
        ("content-type", "application/json"),
        ("x-source", "urn:device:plc-17:port:3"),
        ("x-path", @"C:\data\export\line3"),
        ("x-note", "line one\nline two"));

    /// <summary>A broker's MESSAGE as the gateway sends it to subscribers (no value needs escaping).</summary>
    public static StompFrame Message(int bodySize) => StompFrame.Create(StompCommand.Message, Body(bodySize),
        ("destination", "/topic/sensors.site1.temperature"),
        ("message-id", "gw01-000000000042"),
        ("subscription", "sub-0"),
        ("ack", "a-000000000042"),
        ("content-type", "application/json"));

    public static byte[] Encode(StompFrame frame, int count = 1)
    {
        var buffer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++) StompFrameWriter.Write(frame, buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
