using System.Buffers.Binary;
using System.IO.Hashing;
using Gateway.Storage.LiteDb;

namespace Gateway.Mqtt.Sessions;

/// <summary>
/// The file the kept MQTT state lives in: an append-only log of <see cref="StateRecord"/>s, each framed
/// as length, CRC-32 and body. Appends are made durable by the caller's <see cref="Sync"/>, once per group.
/// </summary>
/// <remarks>
/// A log rather than a database: every change is a small append, and one fdatasync makes a whole group
/// of them durable, which is what the publisher's ack waits for. A SIGKILL can leave a torn last frame;
/// reading stops at the first frame that is short or fails its CRC and the file is cut there, since
/// nothing after it was ever synced before the crash (appends are sequential).
/// </remarks>
internal sealed class MqttStateLog : IDisposable
{
    private const int FrameHeader = 8;

    /// <summary>A group's frames go to the file in a few large writes, not one system call each; the sync flushes the buffer first.</summary>
    private const int AppendBuffer = 1 << 16;

    /// <summary>A frame larger than this is taken for damage: a message is at most MQTT's 256 MiB packet.</summary>
    private const int MaxFrameBytes = 300 * 1024 * 1024;

    private readonly string _path;
    private readonly IDiskSync _disk;
    private FileStream _file;

    private MqttStateLog(string path, IDiskSync disk, FileStream file)
    {
        _path = path;
        _disk = disk;
        _file = file;
    }

    /// <summary>Records appended since the log was last rewritten.</summary>
    public long AppendedRecords { get; private set; }

    /// <summary>Reads the log at <paramref name="path"/> into <paramref name="state"/>; returns the bytes of a torn tail cut off.</summary>
    public static MqttStateLog Open(string path, IDiskSync disk, MqttState state, out long cutBytes)
    {
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, AppendBuffer, FileOptions.None);
        var good = ReadAll(file, state, out var records);
        cutBytes = file.Length - good;
        if (cutBytes > 0)
        {
            file.SetLength(good);
            disk.Sync(file);
        }
        file.Position = good;
        return new MqttStateLog(path, disk, file) { AppendedRecords = records };
    }

    private static long ReadAll(FileStream file, MqttState state, out long records)
    {
        records = 0;
        var header = new byte[FrameHeader];
        long good = 0;
        file.Position = 0;
        while (true)
        {
            if (file.ReadAtLeast(header, FrameHeader, throwOnEndOfStream: false) < FrameHeader) return good;
            var length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length <= 0 || length > MaxFrameBytes || length > file.Length - file.Position) return good;
            var body = new byte[length];
            file.ReadExactly(body);
            if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4))) return good;
            StateRecord record;
            try
            {
                using var reader = new BinaryReader(new MemoryStream(body));
                record = StateRecord.ReadFrom(reader);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException)
            {
                return good;
            }
            state.Apply(record, replaying: true);
            records++;
            good = file.Position;
        }
    }

    public static byte[] Frame(StateRecord record)
    {
        using var body = new MemoryStream();
        body.Position = FrameHeader;
        using (var writer = new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true)) record.WriteTo(writer);
        var frame = body.ToArray();
        var length = frame.Length - FrameHeader;
        BinaryPrimitives.WriteInt32LittleEndian(frame, length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), Crc32.HashToUInt32(frame.AsSpan(FrameHeader)));
        return frame;
    }

    /// <summary>Appends and makes durable: returns once the frames are on the device.</summary>
    public void AppendDurably(IReadOnlyList<byte[]> frames)
    {
        foreach (var frame in frames) _file.Write(frame);
        _file.Flush();
        _disk.Sync(_file);
        AppendedRecords += frames.Count;
    }

    /// <summary>
    /// Replaces the log with <paramref name="frames"/>, the whole state: written to a new file, synced,
    /// then renamed over the old one, so a crash at any point leaves one whole log or the other.
    /// </summary>
    public void Rewrite(IReadOnlyList<byte[]> frames)
    {
        var fresh = _path + ".new";
        using (var file = new FileStream(fresh, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            foreach (var frame in frames) file.Write(frame);
            file.Flush();
            _disk.Sync(file);
        }
        _file.Dispose();
        File.Move(fresh, _path, overwrite: true);
        SyncDirectory();
        _file = new FileStream(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, AppendBuffer, FileOptions.None);
        _file.Position = _file.Length;
        AppendedRecords = frames.Count;
    }

    /// <summary>The rename is durable only once the directory is (Linux); elsewhere there is nothing to do.</summary>
    private void SyncDirectory()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            using var dir = new FileStream(Path.GetDirectoryName(Path.GetFullPath(_path))!, FileMode.Open, FileAccess.Read);
            dir.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not every file system opens a directory; the rename is then as durable as it gets.
        }
    }

    public void Dispose() => _file.Dispose();
}
