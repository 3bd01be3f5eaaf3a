using Microsoft.Extensions.Logging;

namespace Gateway.Storage.LiteDb;

// Opening the store: reading its state back, replacing a store that cannot be read, and reopening
// the files after a failed commit.
public sealed partial class LiteDbOutbox
{
    /// <summary>Opens (or creates) the store, restores the sequence and cursors, and starts the writer.</summary>
    /// <remarks>
    /// A store LiteDB cannot open is moved aside (<c>outbox.db.corrupt-&lt;time&gt;</c>, kept for
    /// inspection), reported, and replaced by a new one: the appliance keeps taking data.
    /// </remarks>
    public void Open()
    {
        Directory.CreateDirectory(_options.DataPath);
        try
        {
            OpenFiles();
        }
        catch (Exception ex) when (StoreFiles.IsCorruption(ex))
        {
            ReplaceCorruptStore(ex.Message);
        }
        _compactor.StartRescan(_lastCommitted);

        _metrics.Gauge("outbox_messages", "", () => Count);
        _metrics.Gauge("outbox_payload_bytes", "", () => Bytes);
        _metrics.Gauge("outbox_disk_free_bytes", "", () => _disk.FreeBytes);
        _metrics.Gauge("outbox_last_sequence", "", () => LastCommittedSequence);
        _metrics.Gauge("outbox_data_file_bytes", "", () => FileSizes.Data);
        _metrics.Gauge("outbox_log_file_bytes", "", () => FileSizes.Log);
        _metrics.Gauge("outbox_log_bytes", "", () => LogBytes);
        _logger.Opened(DataFilePath, _count, _lastSequence);
        // A thread of its own: LiteDB and fsync block, and on an SD card an fsync can take tens of
        // milliseconds; the thread pool (two threads on a 2-core board) must not wait on them.
        var writerThread = new Thread(WriteLoop) { IsBackground = true, Name = "outbox-writer" };
        writerThread.Start();
        _writerStarted = true;
    }

    /// <summary>Opens the files and reads the store's state back; on failure the files are closed again.</summary>
    private void OpenFiles()
    {
        var files = new StoreFiles(DataFilePath, LogFilePath, _sync, _options.LogPreallocateBytes, note =>
        {
            _metrics.Increment("outbox_log_mended_total");
            _logger.LogMended(LogFilePath, note);
        });
        try
        {
            _store = new OpenStore(files, _options, ReportCorruptChunk);
            ReadState(_store);
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    private void ReadState(OpenStore store)
    {
        _compactor.ForgetNoted();
        _dropper.Forget();
        _lastSequence = _lastCommitted = Math.Max(store.Chunks.HighestSequence(), store.Totals.StoredSequence);
        lock (_cursors)
        {
            _cursors.Clear();
            foreach (var (upstream, through) in store.ReadCursors()) _cursors[upstream] = through;
        }
        _toDelete.Clear(); // what they held is at or below a cursor: SweepPassedMessages below removes it
        (_count, _bytes) = store.Totals.Read(store.Chunks);
        SweepPassedMessages();
        SweepExpired();
        NoteLogSize();
    }

    /// <summary>Moves a store that cannot be used aside (kept for inspection), reports it, and opens a new one.</summary>
    private void ReplaceCorruptStore(string cause)
    {
        _store?.Files.Dispose();
        var aside = StoreFiles.MoveAside(DataFilePath, LogFilePath);
        _metrics.Increment("outbox_corrupt_stores_total");
        _logger.Corrupt(DataFilePath, aside, cause);
        OpenFiles();
        // The old high-water mark is lost with the file: continue far above anything it can have
        // reached, so no new message reuses an id a consumer has already seen.
        _lastSequence = _lastCommitted = Math.Max(_lastSequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
    }

    /// <summary>Closes and opens the store files again after a failed commit; false while that fails too (the disk still full).</summary>
    private bool TryReopen()
    {
        var sequence = _lastSequence;
        try
        {
            _store?.Files.Dispose();
            OpenFiles();
        }
        catch (Exception ex)
        {
            // Whatever it is, the writer must live on: it keeps refusing until the store opens again.
            _logger.ReopenFailed(ex.Message);
            return false;
        }
        _lastSequence = _lastCommitted = Math.Max(sequence, _lastSequence);
        _reopenNeeded = false;
        _compactor.ResumeRescan(_lastCommitted); // the small chunks noted before are forgotten: the rescan covers them
        _logger.Reopened(_count);
        return true;
    }

    /// <summary>
    /// Deletes messages every upstream has passed but that are still here: left by a change of routes
    /// (an upstream removed from the configuration no longer holds them).
    /// </summary>
    private void SweepPassedMessages()
    {
        if (!_routes.HasUpstreams) return; // store-and-forward only: everything is kept until an upstream is configured
        var highest = _routes.Upstreams.Max(GetCursor);
        if (highest == 0) return;
        var passed = _store!.Chunks.FindStored(highest, (topic, sequence) => IsConfirmedEverywhere(topic, sequence, null));
        var swept = RemoveNow(passed);
        if (swept > 0) _logger.Swept(swept);
    }
}
