using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The store's two files (LiteDB's data file and its log in the preallocated layout) and the
/// LiteDB database over them: opened together, synced, checkpointed and closed together.
/// </summary>
internal sealed class StoreFiles : IDisposable
{
    private readonly DurableFileStream _data;
    private readonly PreallocatedLogStream _log;

    /// <summary>Opens (or creates) the files. A file held by another process fails here with an <see cref="IOException"/>.</summary>
    /// <param name="dataPath">LiteDB's data file.</param>
    /// <param name="logPath">LiteDB's log (<see cref="PreallocatedLogStream"/>).</param>
    /// <param name="sync">Makes writes durable.</param>
    /// <param name="logPreallocateBytes">Log bytes the log's file is laid out for.</param>
    /// <param name="logMended">Told of anything opening the log had to mend.</param>
    public StoreFiles(string dataPath, string logPath, IDiskSync sync, long logPreallocateBytes, Action<string>? logMended)
    {
        // FileShare.None: a second gateway on the same folder fails here, loudly, instead of corrupting the store.
        _data = new DurableFileStream(OpenFile(dataPath), sync);
        try
        {
            _log = OpenLog(logPath, sync, logPreallocateBytes, logMended);
            try
            {
                Db = new LiteDatabase(_data, new BsonMapper(), _log);
                // LiteDB checkpoints by itself inside a commit once its log passes 1,000 pages, so a
                // commit that throws may have been committed after all (the checkpoint failed, not the
                // commit): on a full disk its message was refused and then forwarded anyway. The outbox
                // checkpoints itself, between commits (LiteDbOutbox.CheckpointWhenDue). Stored in the file.
                if (Db.Pragma("CHECKPOINT").AsInt32 != 0) Db.Pragma("CHECKPOINT", 0);
            }
            catch
            {
                Db?.Dispose();
                _log.Dispose();
                throw;
            }
        }
        catch
        {
            _data.Dispose();
            throw;
        }
    }

    public LiteDatabase Db { get; }

    /// <summary>Bytes of log not yet checkpointed into the data file.</summary>
    public long LogBytes => _log.Length;

    /// <summary>Bytes of the data file, and of the log's file (which keeps its preallocated size).</summary>
    public (long Data, long Log) Sizes => (_data.Length, _log.FileBytes);

    /// <summary>Flushes the log to the device: what was committed is durable when this returns.</summary>
    public void SyncLog()
    {
        lock (_log) _log.Flush();
    }

    /// <summary>
    /// Copies the log into the data file and empties the log. When the disk has no room for it, the
    /// data file is cut back to its length before, so a failed checkpoint does not keep the room it
    /// took (every page past that length is still in the log, whole); LiteDB's idea of the file's
    /// length is then stale: the caller reopens the files before the next write.
    /// </summary>
    public void Checkpoint()
    {
        var before = _data.Length;
        try
        {
            Db.Checkpoint();
        }
        catch (Exception ex) when (IsDiskFull(ex))
        {
            try
            {
                _data.SetLength(before);
            }
            catch (IOException)
            {
                // Cutting a file back needs no room; if even that fails the next reopen sees the same.
            }
            throw;
        }
    }

    /// <summary>Opens LiteDB's log in its preallocated layout (<see cref="PreallocatedLogStream"/>).</summary>
    internal static PreallocatedLogStream OpenLog(string path, IDiskSync sync, long preallocateBytes, Action<string>? note = null)
    {
        var file = OpenFile(path);
        try
        {
            return PreallocatedLogStream.Open(file, sync, preallocateBytes, note);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static FileStream OpenFile(string path) =>
        new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.RandomAccess);

    /// <summary>
    /// What LiteDB throws for a file that is not a sound database. Not a file held by another process
    /// (an <see cref="IOException"/> from opening it): that store is fine and must not be moved.
    /// </summary>
    public static bool IsCorruption(Exception ex) =>
        ex is LiteException or InvalidCastException or ArgumentOutOfRangeException or IndexOutOfRangeException
            or InvalidOperationException or EndOfStreamException or OverflowException or KeyNotFoundException
            or InvalidDataException // a chunk whose records do not add up (ChunkCodec)
            || (ex is not IOException && ex.InnerException is not null && IsCorruption(ex.InnerException));

    /// <summary>
    /// Whether an exception is the store failing (the disk full, an I/O error, LiteDB refusing its
    /// files) rather than a fault of the gateway's own: the writer refuses and goes on after the first,
    /// and stops, loudly, on the second.
    /// </summary>
    public static bool IsStoreFailure(Exception ex) => ex is IOException or UnauthorizedAccessException || IsCorruption(ex);

    /// <summary>Whether an exception is the file system out of room (ENOSPC, or EDQUOT for a quota).</summary>
    public static bool IsDiskFull(Exception? ex) => ex switch
    {
        null => false,
        IOException { HResult: NoSpace or QuotaExceeded } => true,
        _ => IsDiskFull(ex.InnerException),
    };

    /// <summary>Linux errno values .NET puts in <see cref="Exception.HResult"/> of the <see cref="IOException"/> it throws.</summary>
    private const int NoSpace = 28, QuotaExceeded = 122;

    /// <summary>Moves a store that cannot be used aside, kept for inspection; returns where the data file went.</summary>
    public static string MoveAside(string dataPath, string logPath)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var aside = $"{dataPath}.corrupt-{stamp}";
        File.Move(dataPath, aside);
        if (File.Exists(logPath)) File.Move(logPath, $"{logPath}.corrupt-{stamp}");
        return aside;
    }

    /// <summary>Closes the files, whatever state the database is in.</summary>
    public void Dispose()
    {
        try
        {
            Db.Dispose();
        }
        catch (Exception)
        {
            // a corrupt database may fail to close; its files are closed below either way
        }
        _log.Dispose();
        _data.Dispose();
    }
}
