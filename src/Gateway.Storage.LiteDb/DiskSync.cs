using System.Runtime.InteropServices;

namespace Gateway.Storage.LiteDb;

/// <summary>Makes what was written to a file durable. The seam where tests observe (or slow) the fsync.</summary>
public interface IDiskSync
{
    void Sync(FileStream file);
}

/// <summary>
/// The data is on the device when <see cref="Sync"/> returns. On Linux <c>fdatasync</c>: it flushes
/// the data and whatever metadata is needed to read it back (a new size, new blocks), and skips the
/// modification time, which <c>fsync</c> would write with every commit. Elsewhere <c>fsync</c>
/// (<c>FileStream.Flush(true)</c>).
/// </summary>
public sealed class FsyncDiskSync : IDiskSync
{
    public static FsyncDiskSync Instance { get; } = new();

    public void Sync(FileStream file)
    {
        if (!OperatingSystem.IsLinux() || !_dataSyncAvailable)
        {
            file.Flush(flushToDisk: true);
            return;
        }
        file.Flush(flushToDisk: false); // nothing is buffered (the outbox's files have no buffer), but be sure
        try
        {
            DataSync(file);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _dataSyncAvailable = false; // a C library without it: fsync does the same and a little more
            file.Flush(flushToDisk: true);
        }
    }

    private static bool _dataSyncAvailable = true;

    private static void DataSync(FileStream file)
    {
        var handle = file.SafeFileHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (fdatasync((int)handle.DangerousGetHandle()) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"fdatasync of {file.Name} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int fdatasync(int fd);
}
