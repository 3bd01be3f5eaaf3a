using System.Buffers.Binary;
using System.IO.Hashing;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// LiteDB's log, kept in a file that is written once to its working size and then only overwritten,
/// so the fsync after a group commit flushes the commit's pages and nothing of the file system's own.
/// </summary>
/// <remarks>
/// <para>
/// LiteDB appends each commit's pages to its log and empties the log (truncates it) after each
/// checkpoint. On a file that grows and shrinks, every fsync also has to write the file's new size
/// and block allocation; on a preallocated file it writes the pages alone. Measured on the 2-core
/// benchmark machine, 100 connections publishing QoS 1 flat out: about +12 % (35,100 and 36,700
/// msgs/s before, 40,900 and 39,700 after).
/// </para>
/// <para>
/// A file that keeps its size no longer says where the log ends, and LiteDB reads a log to its end
/// when it opens, replaying every transaction it finds confirmed. So each page is stored in a slot
/// with a header: the log's generation and a CRC-32 of generation and page. The file's own header
/// holds the current generation; emptying the log writes a new one (and syncs it), which makes every
/// slot of earlier generations stale at once, without rewriting them. Opening reads slots from the
/// start while they carry the current generation and a matching checksum: that is the log. A slot
/// torn by a power cut, or never written, ends it there; it belonged to a commit that was never
/// synced, so never acknowledged.
/// </para>
/// <para>
/// A slot is a 4 KiB header block followed by the page, so every slot starts on a 4 KiB boundary:
/// writing the next commit's slots never rewrites a block of a slot already synced (and acknowledged),
/// which a device that tears writes at power loss could otherwise damage. It costs half a page of
/// file per page of log.
/// </para>
/// <para>
/// LiteDB writes its log a whole page at a time, at page boundaries, and only ever empties it; any
/// other write or length is refused loudly rather than stored in a way this class cannot read back.
/// LiteDB serialises access by locking on this object.
/// </para>
/// </remarks>
internal sealed class PreallocatedLogStream : Stream
{
    public const int PageSize = 8192;

    /// <summary>Generation (8 bytes), CRC-32 of generation and page (4); the rest of the block is zeros.</summary>
    private const int SlotHeaderSize = 4096;
    private const int SlotSize = SlotHeaderSize + PageSize;

    /// <summary>Magic (8 bytes), generation (8), CRC-32 of both (4); the rest of the block is zeros.</summary>
    private const int FileHeaderSize = 4096;

    private static ReadOnlySpan<byte> Magic => "GWLITELG"u8;

    private readonly FileStream _file;
    private readonly IDiskSync _sync;
    private readonly byte[] _slot = new byte[SlotSize];
    private long _generation, _length, _position;

    private PreallocatedLogStream(FileStream file, IDiskSync sync)
    {
        _file = file;
        _sync = sync;
    }

    /// <summary>The slots the file holds without growing.</summary>
    public long Capacity => Math.Max(0, (FileBytes - FileHeaderSize) / SlotSize);

    /// <summary>The file's size on disk, which stays put while the log fills and empties.</summary>
    public long FileBytes => RandomAccess.GetLength(_file.SafeFileHandle);

    /// <summary>Opens a log in this layout, or lays one out in an empty file.</summary>
    /// <param name="preallocateBytes">Log bytes (LiteDB pages) the file holds before it has to grow.</param>
    /// <param name="note">Told of anything opening had to mend (a damaged header, stale slots cleared).</param>
    public static PreallocatedLogStream Open(FileStream file, IDiskSync sync, long preallocateBytes, Action<string>? note = null)
    {
        var log = new PreallocatedLogStream(file, sync);
        var length = log.FileBytes;
        if (length < FileHeaderSize)
        {
            // New, or its creation was cut short before anything was logged.
            if (length > 0) note?.Invoke("the log file was shorter than its header (its creation was cut short); it starts empty");
            log.StartGeneration();
        }
        else if (ReadHeader(file) is { } generation)
        {
            log._generation = generation;
            log.FindEnd(note);
        }
        else
        {
            log.MendHeader(note);
        }
        log.Preallocate(preallocateBytes, note);
        return log;
    }

    /// <summary>The generation the file's header names; null when the header does not check out.</summary>
    private static long? ReadHeader(FileStream file)
    {
        var header = new byte[20];
        if (RandomAccess.Read(file.SafeFileHandle, header, 0) < header.Length) return null;
        if (!header.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
        if (Crc32.HashToUInt32(header.AsSpan(0, 16)) != BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(16))) return null;
        return BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
    }

    /// <summary>
    /// A header that does not check out. The header is only written when the log is emptied, after
    /// LiteDB's checkpoint has put every page into the data file and synced it, so the likely cause is
    /// a power cut during that write. Then the first slot, if whole, holds the first page of the log
    /// just checkpointed, and reading that generation again replays pages the data file already holds,
    /// which changes nothing. If the header was damaged some other way while the log held commits, the
    /// same reading recovers them. Without a whole first slot there is nothing to read: the log starts empty.
    /// </summary>
    private void MendHeader(Action<string>? note)
    {
        if (Capacity > 0 && SlotGeneration(0) is { } generation)
        {
            _generation = generation;
            WriteHeader(_generation);
            FindEnd(note);
            note?.Invoke($"the log's header was damaged; it was rewritten from the log's first page, and {_length / PageSize} page(s) of log were read back");
            return;
        }
        note?.Invoke("the log's header was damaged and its first page is not whole; the log starts empty (a power cut while the log was being emptied leaves it so, with every page already in the data file)");
        StartGeneration();
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => true;
    public override long Length => Interlocked.Read(ref _length); // the writer and the metrics read it too

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    /// <summary>Makes what was written durable (through <see cref="IDiskSync"/>, where tests watch it).</summary>
    public override void Flush() => _sync.Sync(_file);

    public override int Read(byte[] buffer, int offset, int count)
    {
        var total = 0;
        while (count > 0 && _position < _length)
        {
            var page = _position / PageSize;
            var within = (int)(_position % PageSize);
            var n = (int)Math.Min(Math.Min(count, PageSize - within), _length - _position);
            var got = RandomAccess.Read(_file.SafeFileHandle, buffer.AsSpan(offset, n), SlotOffset(page) + SlotHeaderSize + within);
            if (got <= 0) break;
            total += got;
            offset += got;
            count -= got;
            _position += got;
        }
        return total;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (count != PageSize || _position % PageSize != 0)
            throw new NotSupportedException($"the outbox's log takes whole {PageSize}-byte pages at page boundaries (asked to write {count} bytes at {_position})");
        var slot = _slot.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(slot, _generation);
        buffer.AsSpan(offset, PageSize).CopyTo(slot[SlotHeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[8..], SlotChecksum(slot));
        slot[12..SlotHeaderSize].Clear(); // the buffer also serves reads of slots that may be damaged
        RandomAccess.Write(_file.SafeFileHandle, slot, SlotOffset(_position / PageSize));
        _position += PageSize;
        if (_position > _length) Interlocked.Exchange(ref _length, _position);
    }

    /// <summary>LiteDB empties its log after each checkpoint: a new generation makes every slot stale at once.</summary>
    public override void SetLength(long value)
    {
        if (value == _length) return;
        if (value != 0)
            throw new NotSupportedException($"the outbox's log can only be emptied (asked to set its length to {value}, from {_length})");
        StartGeneration();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _file.Dispose();
        base.Dispose(disposing);
    }

    private static long SlotOffset(long page) => FileHeaderSize + page * SlotSize;

    /// <summary>CRC-32 of a slot's generation and page (the checksum field itself left out).</summary>
    private static uint SlotChecksum(ReadOnlySpan<byte> slot)
    {
        var crc = new Crc32();
        crc.Append(slot[..8]);
        crc.Append(slot[SlotHeaderSize..]);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>Writes a header with a new generation and syncs it: from then on the log is empty.</summary>
    private void StartGeneration()
    {
        long generation;
        do generation = Random.Shared.NextInt64(1, long.MaxValue);
        while (generation == _generation);
        WriteHeader(generation);
        _generation = generation;
        Interlocked.Exchange(ref _length, 0);
        _position = 0;
    }

    private void WriteHeader(long generation)
    {
        var header = new byte[FileHeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), generation);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), Crc32.HashToUInt32(header.AsSpan(0, 16)));
        RandomAccess.Write(_file.SafeFileHandle, header, 0);
        Flush();
    }

    /// <summary>
    /// The log is the run of slots from the start that carry this generation and a matching checksum.
    /// Slots of this generation past a gap (pages written out of order, then a power cut) belong to
    /// commits that were never synced: they are cleared, so a later open cannot take them for log.
    /// </summary>
    private void FindEnd(Action<string>? note)
    {
        var capacity = Capacity;
        long page = 0;
        while (page < capacity && IsValid(page)) page++;
        Interlocked.Exchange(ref _length, page * PageSize);
        var cleared = 0;
        byte[]? zeros = null;
        for (var later = page + 1; later < capacity; later++)
        {
            if (RandomAccess.Read(_file.SafeFileHandle, _slot.AsSpan(0, 8), SlotOffset(later)) < 8) break;
            if (BinaryPrimitives.ReadInt64LittleEndian(_slot) != _generation) continue;
            RandomAccess.Write(_file.SafeFileHandle, zeros ??= new byte[SlotSize], SlotOffset(later));
            cleared++;
        }
        if (cleared > 0)
        {
            Flush();
            note?.Invoke($"{cleared} log page(s) past the end of the log were cleared (written but never synced before the process stopped)");
        }
    }

    private bool IsValid(long page) => SlotGeneration(page) == _generation;

    /// <summary>The generation a slot carries, when the slot is whole and its checksum matches; null otherwise.</summary>
    private long? SlotGeneration(long page)
    {
        if (RandomAccess.Read(_file.SafeFileHandle, _slot, SlotOffset(page)) < SlotSize) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(_slot.AsSpan(8)) != SlotChecksum(_slot)) return null;
        return BinaryPrimitives.ReadInt64LittleEndian(_slot);
    }

    /// <summary>
    /// Writes zeros up to the working size (real blocks, not a sparse file or unwritten extents, whose
    /// first write would again change the file system's metadata) and syncs them, once.
    /// </summary>
    private void Preallocate(long logBytes, Action<string>? note)
    {
        var target = SlotOffset((logBytes + PageSize - 1) / PageSize);
        var length = FileBytes;
        if (length >= target) return;
        var zeros = new byte[1 << 20];
        try
        {
            for (var at = length; at < target; at += zeros.Length)
                RandomAccess.Write(_file.SafeFileHandle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, target - at)), at);
            Flush();
        }
        catch (IOException ex) when (StoreFiles.IsDiskFull(ex))
        {
            // Opened on a full disk: the log works as it is (zeros past its end read as its end), and
            // grows as it fills once there is room; it is laid out in full at a later opening.
            note?.Invoke($"the log could not be laid out to its working size for lack of room ({ex.Message}); it grows as it fills");
        }
    }
}
