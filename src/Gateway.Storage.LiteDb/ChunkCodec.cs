using System.Buffers.Binary;
using System.Text;
using Gateway.Core.Messages;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The binary form of one group commit's messages, stored as a single LiteDB document (a "chunk"):
/// LiteDB then maintains one index entry per group instead of one (or two) per message, which was
/// most of the writer's time (measured: 61 % of it in LiteDB's index inserts).
/// </summary>
/// <remarks>
/// Layout: a version byte, the CRC-32 of everything after it (little-endian; LiteDB checks nothing of
/// a document's bytes, so this is what finds a bit flipped on the card), then one record per message in
/// sequence order, each prefixed by its length so a reader can skip to the record it wants without
/// decoding the ones before it.
/// A record: flags (QoS, retain, which optional fields follow), route index + 1, received-at
/// (ms since the epoch, little-endian), payload length, topic, client id, the optional fields, and
/// the payload last. Lengths are unsigned LEB128 varints, strings UTF-8.
/// </remarks>
internal static class ChunkCodec
{
    public const byte Version = 1;

    /// <summary>Bytes before the first record: the version and the CRC-32.</summary>
    private const int HeaderSize = 5;

    private const byte QosMask = 0b11, RetainFlag = 1 << 2, ContentTypeFlag = 1 << 3, CorrelationFlag = 1 << 4,
        ResponseTopicFlag = 1 << 5, ExpiresFlag = 1 << 6, UserPropertiesFlag = 1 << 7;

    /// <summary>What a scan of a record's head gives without decoding the message: for drops and sweeps.</summary>
    public readonly record struct RecordHead(int Offset, int Length, int Route, int PayloadSize);

    /// <summary>
    /// Encodes messages (with the index of their first route, -1 for none, and their
    /// <see cref="RecordSize"/>, worked out once when they were queued) into one chunk.
    /// </summary>
    public static byte[] Encode(IReadOnlyList<(IncomingMessage Message, int Route, int RecordSize)> items)
    {
        var total = HeaderSize;
        foreach (var item in items) total += Framed(item.RecordSize);
        var buffer = new byte[total];
        var pos = HeaderSize;
        foreach (var (message, route, size) in items)
        {
            pos += WriteVarint(buffer.AsSpan(pos), (uint)size);
            WriteRecord(buffer.AsSpan(pos, size), message, route);
            pos += size;
        }
        Seal(buffer);
        return buffer;
    }

    /// <summary>One chunk holding the records of several, in the order given (their sequences must follow on).</summary>
    public static byte[] Concatenate(IReadOnlyList<byte[]> chunks)
    {
        var length = HeaderSize;
        foreach (var chunk in chunks) length += chunk.Length - CheckHeader(chunk); // a damaged part is never joined in
        var joined = new byte[length];
        var pos = HeaderSize;
        foreach (var chunk in chunks)
        {
            chunk.AsSpan(HeaderSize).CopyTo(joined.AsSpan(pos));
            pos += chunk.Length - HeaderSize;
        }
        Seal(joined);
        return joined;
    }

    /// <summary>The heads of every record, in order (record i holds the chunk's i-th sequence).</summary>
    public static RecordHead[] ReadHeads(byte[] chunk, int count)
    {
        var heads = new RecordHead[count];
        var pos = CheckHeader(chunk);
        for (var i = 0; i < count; i++)
        {
            var length = (int)ReadVarint(chunk, ref pos);
            var start = pos;
            var r = pos + 1;
            var route = (int)ReadVarint(chunk, ref r) - 1;
            r += 8;
            var payload = (int)ReadVarint(chunk, ref r);
            heads[i] = new RecordHead(start, length, route, payload);
            pos = start + length;
        }
        if (pos != chunk.Length) throw new InvalidDataException($"chunk has {chunk.Length - pos} bytes past its {count} records");
        return heads;
    }

    /// <summary>
    /// Offsets of records from <paramref name="from"/> on, skipping those before it by their lengths only.
    /// Calls <paramref name="visit"/> with each index, offset and length until it returns false.
    /// </summary>
    public static void Walk(byte[] chunk, int count, int from, Func<int, int, int, bool> visit)
    {
        var pos = CheckHeader(chunk);
        for (var i = 0; i < count; i++)
        {
            var length = (int)ReadVarint(chunk, ref pos);
            if (pos + length > chunk.Length) throw new InvalidDataException($"record {i} runs past the end of its chunk");
            if (i >= from && !visit(i, pos, length)) return;
            pos += length;
        }
    }

    /// <summary>Decodes one record. The payload and correlation data are slices of <paramref name="chunk"/>, not copies.</summary>
    /// <exception cref="InvalidDataException">The record is damaged (whatever part of it does not add up).</exception>
    public static StoredMessage ReadMessage(byte[] chunk, int offset, int length, long sequence)
    {
        try
        {
            return DecodeRecord(chunk, offset, length, sequence);
        }
        catch (Exception ex) when (ex is ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException($"record of message {sequence} is damaged: {ex.Message}", ex);
        }
    }

    private static StoredMessage DecodeRecord(byte[] chunk, int offset, int length, long sequence)
    {
        var end = offset + length;
        var pos = offset;
        var flags = chunk[pos++];
        _ = ReadVarint(chunk, ref pos); // route: only drops and sweeps need it
        var receivedAt = BinaryPrimitives.ReadInt64LittleEndian(chunk.AsSpan(pos, 8));
        pos += 8;
        var payloadSize = (int)ReadVarint(chunk, ref pos);
        var topic = ReadString(chunk, ref pos);
        var clientId = ReadString(chunk, ref pos);
        var contentType = (flags & ContentTypeFlag) != 0 ? ReadString(chunk, ref pos) : null;
        ReadOnlyMemory<byte>? correlation = null;
        if ((flags & CorrelationFlag) != 0)
        {
            var n = (int)ReadVarint(chunk, ref pos);
            correlation = new ReadOnlyMemory<byte>(chunk, pos, n);
            pos += n;
        }
        var responseTopic = (flags & ResponseTopicFlag) != 0 ? ReadString(chunk, ref pos) : null;
        DateTimeOffset? expiresAt = null;
        if ((flags & ExpiresFlag) != 0)
        {
            expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(chunk.AsSpan(pos, 8)));
            pos += 8;
        }
        IReadOnlyList<KeyValuePair<string, string>> userProperties = [];
        if ((flags & UserPropertiesFlag) != 0)
        {
            var n = (int)ReadVarint(chunk, ref pos);
            var props = new KeyValuePair<string, string>[n];
            for (var i = 0; i < n; i++)
            {
                var key = ReadString(chunk, ref pos);
                props[i] = new KeyValuePair<string, string>(key, ReadString(chunk, ref pos));
            }
            userProperties = props;
        }
        if (pos + payloadSize != end) throw new InvalidDataException($"record of message {sequence} does not add up ({end - pos} bytes left for a {payloadSize}-byte payload)");
        var message = new IncomingMessage
        {
            Topic = topic,
            Payload = new ReadOnlyMemory<byte>(chunk, pos, payloadSize),
            Qos = (QualityOfService)(flags & QosMask),
            Retain = (flags & RetainFlag) != 0,
            ClientId = clientId,
            ReceivedAt = DateTimeOffset.FromUnixTimeMilliseconds(receivedAt),
            ContentType = contentType,
            CorrelationData = correlation,
            ResponseTopic = responseTopic,
            ExpiresAt = expiresAt,
            UserProperties = userProperties,
        };
        return new StoredMessage(sequence, message);
    }

    /// <summary>Writes the version and the checksum of the records.</summary>
    private static void Seal(byte[] chunk)
    {
        chunk[0] = Version;
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(1), System.IO.Hashing.Crc32.HashToUInt32(chunk.AsSpan(HeaderSize)));
    }

    /// <summary>Checks the version and the checksum; returns where the records start.</summary>
    private static int CheckHeader(byte[] chunk)
    {
        if (chunk.Length < HeaderSize || chunk[0] != Version)
            throw new InvalidDataException($"chunk of unknown format {(chunk.Length > 0 ? chunk[0] : -1)} ({chunk.Length} bytes)");
        var expected = BinaryPrimitives.ReadUInt32LittleEndian(chunk.AsSpan(1));
        var actual = System.IO.Hashing.Crc32.HashToUInt32(chunk.AsSpan(HeaderSize));
        if (expected != actual) throw new InvalidDataException($"chunk checksum is {actual:x8}, {expected:x8} was written");
        return HeaderSize;
    }

    private static byte Flags(IncomingMessage m)
    {
        var flags = (byte)((byte)m.Qos & QosMask);
        if (m.Retain) flags |= RetainFlag;
        if (m.ContentType is not null) flags |= ContentTypeFlag;
        if (m.CorrelationData is not null) flags |= CorrelationFlag;
        if (m.ResponseTopic is not null) flags |= ResponseTopicFlag;
        if (m.ExpiresAt is not null) flags |= ExpiresFlag;
        if (m.UserProperties.Count > 0) flags |= UserPropertiesFlag;
        return flags;
    }

    /// <summary>Bytes a record of <paramref name="recordSize"/> takes in a chunk, its length prefix included.</summary>
    public static int Framed(int recordSize) => VarintSize((uint)recordSize) + recordSize;

    /// <summary>Bytes a message's record takes, without its length prefix.</summary>
    public static int RecordSize(IncomingMessage m, int route)
    {
        var size = 1 + VarintSize((uint)(route + 1)) + 8 + VarintSize((uint)m.Payload.Length) + StringSize(m.Topic) + StringSize(m.ClientId);
        if (m.ContentType is { } ct) size += StringSize(ct);
        if (m.CorrelationData is { } cd) size += VarintSize((uint)cd.Length) + cd.Length;
        if (m.ResponseTopic is { } rt) size += StringSize(rt);
        if (m.ExpiresAt is not null) size += 8;
        if (m.UserProperties.Count > 0)
        {
            size += VarintSize((uint)m.UserProperties.Count);
            foreach (var (key, value) in m.UserProperties) size += StringSize(key) + StringSize(value);
        }
        return size + m.Payload.Length;
    }

    private static void WriteRecord(Span<byte> span, IncomingMessage m, int route)
    {
        var pos = 0;
        span[pos++] = Flags(m);
        pos += WriteVarint(span[pos..], (uint)(route + 1));
        BinaryPrimitives.WriteInt64LittleEndian(span[pos..], m.ReceivedAt.ToUnixTimeMilliseconds());
        pos += 8;
        pos += WriteVarint(span[pos..], (uint)m.Payload.Length);
        pos += WriteString(span[pos..], m.Topic);
        pos += WriteString(span[pos..], m.ClientId);
        if (m.ContentType is { } ct) pos += WriteString(span[pos..], ct);
        if (m.CorrelationData is { } cd)
        {
            pos += WriteVarint(span[pos..], (uint)cd.Length);
            cd.Span.CopyTo(span[pos..]);
            pos += cd.Length;
        }
        if (m.ResponseTopic is { } rt) pos += WriteString(span[pos..], rt);
        if (m.ExpiresAt is { } expires)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[pos..], expires.ToUnixTimeMilliseconds());
            pos += 8;
        }
        if (m.UserProperties.Count > 0)
        {
            pos += WriteVarint(span[pos..], (uint)m.UserProperties.Count);
            foreach (var (key, value) in m.UserProperties)
            {
                pos += WriteString(span[pos..], key);
                pos += WriteString(span[pos..], value);
            }
        }
        m.Payload.Span.CopyTo(span[pos..]);
    }

    private static int StringSize(string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        return VarintSize((uint)n) + n;
    }

    private static int WriteString(Span<byte> span, string s)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        var head = WriteVarint(span, (uint)n);
        Encoding.UTF8.GetBytes(s, span[head..]);
        return head + n;
    }

    private static string ReadString(byte[] chunk, ref int pos)
    {
        var n = (int)ReadVarint(chunk, ref pos);
        var s = Encoding.UTF8.GetString(chunk, pos, n);
        pos += n;
        return s;
    }

    private static int VarintSize(uint value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private static int WriteVarint(Span<byte> span, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        return i;
    }

    private static uint ReadVarint(byte[] chunk, ref int pos)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (pos >= chunk.Length) throw new InvalidDataException("chunk ends inside a length");
            var b = chunk[pos++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("length of more than 5 bytes in a chunk");
    }
}
