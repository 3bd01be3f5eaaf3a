using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Gateway.Stomp;

/// <summary>Parses STOMP 1.2 frames from bytes as they arrive.</summary>
/// <remarks>
/// Pure: no I/O, so TCP, TLS and WebSocket are thin adapters and tests need no sockets. A frame that
/// is not complete yet is left in the buffer (the caller reads more and calls again); every limit is
/// checked against what has arrived before the frame is materialised, so a peer announcing a huge
/// body or sending an endless header line is refused without the reader allocating for it.
/// </remarks>
public static class StompFrameReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Takes the next frame off the front of <paramref name="buffer"/>. Heart-beats (bare EOLs between
    /// frames, including the newline ActiveMQ puts after every NUL) are consumed and counted.
    /// </summary>
    /// <returns>true with a frame; false when more bytes are needed (the buffer then starts at the unfinished frame).</returns>
    /// <exception cref="StompProtocolException">The bytes are not a valid frame or break a limit.</exception>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, StompLimits limits, out StompFrame? frame, out int heartbeats)
    {
        frame = null;
        heartbeats = SkipHeartbeats(ref buffer);
        if (buffer.IsEmpty) return false;

        var reader = new SequenceReader<byte>(buffer);
        if (!TryReadLine(ref reader, limits, out var commandLine)) return false;
        if (!StompCommands.TryParse(commandLine, out var command))
            throw new StompProtocolException($"unknown command '{Printable(commandLine)}'");

        var escaped = StompCommands.EscapesHeaders(command);
        var headers = new List<KeyValuePair<string, string>>();
        long? contentLength = null;
        while (true)
        {
            if (reader.Consumed > limits.MaxHeaderBytes)
                throw new StompProtocolException($"headers larger than {limits.MaxHeaderBytes} bytes");
            if (!TryReadLine(ref reader, limits, out var line)) return false;
            if (line.IsEmpty) break;
            if (headers.Count == limits.MaxHeaders)
                throw new StompProtocolException($"more than {limits.MaxHeaders} headers");

            var colon = line.IndexOf((byte)':');
            if (colon <= 0) throw new StompProtocolException($"header line without a name and ':' ('{Printable(line)}')");
            var name = Decode(line[..colon], escaped);
            var value = Decode(line[(colon + 1)..], escaped);
            if (name == "content-length" && contentLength is null) contentLength = ParseLength(value, limits);
            headers.Add(new(name, value));
        }

        ReadOnlyMemory<byte> body;
        if (contentLength is { } length)
        {
            // Wait for the announced body and its NUL; the length was checked against the limit already.
            if (reader.Remaining < length + 1) return false;
            body = reader.UnreadSequence.Slice(0, length).ToArray();
            reader.Advance(length);
            if (!reader.TryRead(out var terminator) || terminator != 0)
                throw new StompProtocolException("body is longer than its content-length (no NUL where it should end)");
        }
        else
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> untilNul, 0, advancePastDelimiter: true))
            {
                if (reader.Remaining > limits.MaxBodyBytes)
                    throw new StompProtocolException($"body larger than {limits.MaxBodyBytes} bytes");
                return false;
            }
            if (untilNul.Length > limits.MaxBodyBytes) throw new StompProtocolException($"body larger than {limits.MaxBodyBytes} bytes");
            body = untilNul.IsEmpty ? ReadOnlyMemory<byte>.Empty : untilNul.ToArray();
        }

        frame = new StompFrame(command, headers, body);
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>Consumes bare EOLs (<c>\n</c> or <c>\r\n</c>) at the front of the buffer: heart-beats.</summary>
    private static int SkipHeartbeats(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        var count = 0;
        while (reader.TryPeek(out var b))
        {
            if (b == (byte)'\n')
            {
                reader.Advance(1);
            }
            else if (b == (byte)'\r')
            {
                if (!reader.TryPeek(1, out var next)) break; // wait for the \n that should follow
                if (next != (byte)'\n') throw new StompProtocolException("carriage return not followed by a line feed");
                reader.Advance(2);
            }
            else
            {
                break;
            }
            count++;
        }
        buffer = buffer.Slice(reader.Position);
        return count;
    }

    /// <summary>One line, without its <c>\n</c> or <c>\r\n</c>; false when it has not fully arrived (within the limit).</summary>
    private static bool TryReadLine(ref SequenceReader<byte> reader, StompLimits limits, out ReadOnlySpan<byte> line)
    {
        if (!reader.TryReadTo(out ReadOnlySequence<byte> raw, (byte)'\n', advancePastDelimiter: true))
        {
            if (reader.Remaining > limits.MaxLineBytes) throw new StompProtocolException($"a line longer than {limits.MaxLineBytes} bytes");
            line = default;
            return false;
        }
        if (raw.Length > limits.MaxLineBytes) throw new StompProtocolException($"a line longer than {limits.MaxLineBytes} bytes");
        // Lines are small (limited above): a contiguous copy only when the line spans segments.
        line = raw.IsSingleSegment ? raw.FirstSpan : raw.ToArray();
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        return true;
    }

    private static long ParseLength(string value, StompLimits limits)
    {
        if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length))
            throw new StompProtocolException($"content-length '{value}' is not a non-negative integer");
        if (length > limits.MaxBodyBytes) throw new StompProtocolException($"content-length {length} is over the limit of {limits.MaxBodyBytes} bytes");
        return length;
    }

    /// <summary>UTF-8 text with the STOMP 1.2 escapes (<c>\\ \n \r \c</c>) undone; any other escape is an error.</summary>
    private static string Decode(ReadOnlySpan<byte> raw, bool escaped)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(raw);
        }
        catch (DecoderFallbackException)
        {
            throw new StompProtocolException("a header is not valid UTF-8");
        }
        if (!escaped || !text.Contains('\\')) return text;

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '\\')
            {
                result.Append(c);
                continue;
            }
            if (++i == text.Length) throw new StompProtocolException("a header ends in a lone backslash");
            result.Append(text[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                'r' => '\r',
                'c' => ':',
                var other => throw new StompProtocolException($"undefined escape '\\{other}' in a header"),
            });
        }
        return result.ToString();
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var shown = bytes[..Math.Min(bytes.Length, 40)];
        return new string(Encoding.ASCII.GetString(shown).Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }
}
