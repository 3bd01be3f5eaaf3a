namespace Gateway.Storage.LiteDb;

/// <summary>
/// The file stream LiteDB writes its data file through, with every <see cref="Flush"/> made an fsync.
/// </summary>
/// <remarks>
/// LiteDB 5 writes a commit before <c>Commit()</c> returns but leaves it in the OS page cache
/// (measured: about 20 flushes per 1,000 commits), and when it is handed streams it "flushes" them
/// without fsync, even at checkpoint. Routing every flush through <see cref="IDiskSync"/> makes the
/// checkpoint durable. The log has a stream of its own (<see cref="PreallocatedLogStream"/>). LiteDB
/// serialises its own access by locking on this object.
/// </remarks>
internal sealed class DurableFileStream(FileStream file, IDiskSync sync) : Stream
{
    public string Path => file.Name;

    public override bool CanRead => file.CanRead;
    public override bool CanSeek => file.CanSeek;
    public override bool CanWrite => file.CanWrite;
    public override long Length => file.Length;

    public override long Position
    {
        get => file.Position;
        set => file.Position = value;
    }

    public override void Flush() => sync.Sync(file);

    public override int Read(byte[] buffer, int offset, int count) => file.Read(buffer, offset, count);

    public override long Seek(long offset, SeekOrigin origin) => file.Seek(offset, origin);

    public override void SetLength(long value) => file.SetLength(value);

    public override void Write(byte[] buffer, int offset, int count) => file.Write(buffer, offset, count);

    protected override void Dispose(bool disposing)
    {
        if (disposing) file.Dispose();
        base.Dispose(disposing);
    }
}
