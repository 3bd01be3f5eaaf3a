using Gateway.Storage.LiteDb;

namespace Gateway.TestUtilities;

/// <summary>An fsync that can be held shut or made to fail, to see what waits for it.</summary>
public sealed class GatedDiskSync : IDiskSync
{
    private readonly ManualResetEventSlim _gate = new(true);
    private int _syncsCompleted;

    /// <summary>Set when a sync begins; reset it to watch for the next one.</summary>
    public ManualResetEventSlim Entered { get; } = new(false);

    public int SyncsCompleted => Volatile.Read(ref _syncsCompleted);

    /// <summary>The file of the sync that began last (set with <see cref="Entered"/>).</summary>
    public string? EnteredFile => Volatile.Read(ref _enteredFile);

    /// <summary>The next sync throws this instead of syncing (a full disk, an I/O error).</summary>
    public Exception? FailNext
    {
        get => Volatile.Read(ref _failNext);
        set => Volatile.Write(ref _failNext, value);
    }

    public void Close() => _gate.Reset();

    public void Open()
    {
        Volatile.Write(ref _passOne, false);
        _gate.Set();
    }

    /// <summary>Lets one sync through (the one held now, or the next), and shuts the gate behind it (syncs come one at a time, from the outbox's writer).</summary>
    public void PassOne()
    {
        Volatile.Write(ref _passOne, true);
        _gate.Set();
    }

    public void Sync(FileStream file)
    {
        Volatile.Write(ref _enteredFile, file.Name);
        Entered.Set();
        _gate.Wait();
        if (Volatile.Read(ref _passOne))
        {
            Volatile.Write(ref _passOne, false);
            _gate.Reset();
        }
        if (Interlocked.Exchange(ref _failNext, null) is { } failure) throw failure;
        file.Flush(flushToDisk: true);
        Interlocked.Increment(ref _syncsCompleted);
    }

    private Exception? _failNext;
    private bool _passOne;
    private string? _enteredFile;
}
