namespace Gateway.Storage.LiteDb;

/// <summary>Makes what was written to a file durable. The seam where tests observe (or slow) the fsync.</summary>
public interface IDiskSync
{
    void Sync(FileStream file);
}

/// <summary><c>fsync</c> (on Linux <c>FileStream.Flush(true)</c> calls it): the data is on the device when it returns.</summary>
public sealed class FsyncDiskSync : IDiskSync
{
    public static FsyncDiskSync Instance { get; } = new();

    public void Sync(FileStream file) => file.Flush(flushToDisk: true);
}
