using System.Buffers;
using System.Globalization;
using System.Text;

namespace Gateway.Stomp;

/// <summary>Writes STOMP 1.2 frames to any buffer writer (a pipe, a socket buffer, a WebSocket message).</summary>
public static class StompFrameWriter
{
    private static ReadOnlySpan<byte> ContentLength => "content-length"u8;

    /// <summary>
    /// Command, escaped headers, <c>content-length</c> when there is a body and the caller set none,
    /// a blank line, the body and NUL.
    /// </summary>
    public static void Write(StompFrame frame, IBufferWriter<byte> output)
    {
        WriteBytes(output, StompCommands.NameOf(frame.Command));
        WriteByte(output, (byte)'\n');

        var escape = StompCommands.EscapesHeaders(frame.Command);
        var hasLength = false;
        foreach (var (name, value) in frame.Headers)
        {
            hasLength |= name == "content-length";
            WriteText(output, name, escape);
            WriteByte(output, (byte)':');
            WriteText(output, value, escape);
            WriteByte(output, (byte)'\n');
        }
        if (!hasLength && !frame.Body.IsEmpty)
        {
            // Always announce the length: the body may contain NUL bytes, and the reader can then
            // refuse an oversized body before it arrives.
            WriteBytes(output, ContentLength);
            WriteByte(output, (byte)':');
            WriteText(output, frame.Body.Length.ToString(CultureInfo.InvariantCulture), escape: false);
            WriteByte(output, (byte)'\n');
        }
        WriteByte(output, (byte)'\n');
        WriteBytes(output, frame.Body.Span);
        WriteByte(output, 0);
    }

    /// <summary>A heart-beat: one EOL.</summary>
    public static void WriteHeartbeat(IBufferWriter<byte> output) => WriteByte(output, (byte)'\n');

    private static void WriteText(IBufferWriter<byte> output, string text, bool escape)
    {
        if (escape && text.AsSpan().IndexOfAny('\\', '\n', '\r') < 0 && !text.Contains(':')) escape = false;
        if (!escape)
        {
            var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
            output.Advance(Encoding.UTF8.GetBytes(text, span));
            return;
        }
        var escaped = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            escaped.Append(c switch
            {
                '\\' => @"\\",
                '\n' => @"\n",
                '\r' => @"\r",
                ':' => @"\c",
                _ => c.ToString(),
            });
        }
        WriteText(output, escaped.ToString(), escape: false);
    }

    private static void WriteBytes(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    private static void WriteByte(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }
}
