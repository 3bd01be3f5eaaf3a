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
            }
            catch
            {
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

    /// <summary>Moves a store that cannot be used aside, kept for inspection; returns where the data file went.</summary>
    public static string MoveAside(string dataPath, string logPath)
    {
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var aside = $"{dataPath}.corrupt-{stamp}";
        File.Move(dataPath, aside);
        if (File.Exists(logPath)) File.Move(logPath, $"{logPath}.corrupt-{stamp}");
        return aside;
    }

    /// <summary>Checkpoints the log into the data file, then closes everything (a clean stop).</summary>
    public void CheckpointAndClose()
    {
        Db.Checkpoint();
        Db.Dispose();
        Dispose();
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
