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
            OpenFiles(atStart: true);
        }
        catch (Exception ex) when (StoreFiles.IsCorruption(ex))
        {
            ReplaceCorruptStore(ex.Message);
        }
        catch (Exception ex) when (StoreFiles.IsDiskFull(ex))
        {
            // Not even the files could be opened: the writer tries again once there is room.
            WriteFailed("opening the store", ex, inTransaction: false);
        }
        _compactor.StartRescan(_lastCommitted);
        ReportFullDiskAtOpen();

        _metrics.Gauge("outbox_messages", "", () => Count);
        _metrics.Gauge("outbox_payload_bytes", "", () => Bytes);
        _metrics.Gauge("outbox_disk_free_bytes", "", () => _disk.FreeBytes ?? double.NaN); // unknown until the first reading, not 2^63
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

    /// <summary>
    /// Opens an existing store to read it only (a stopped gateway's backlog, for the command line):
    /// its state is read back, nothing is swept or checkpointed, no writer runs, and a store that
    /// cannot be opened is reported, never moved aside. The files are held exclusively all the same.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no store.</exception>
    /// <exception cref="IOException">Another process holds the store, or it cannot be read.</exception>
    public void OpenToRead()
    {
        if (!File.Exists(DataFilePath)) throw new FileNotFoundException($"there is no store at {DataFilePath}", DataFilePath);
        _readOnly = true;
        OpenFiles(atStart: false);
    }

    /// <summary>Opens the files and reads the store's state back; on failure the files are closed again (and there is no store).</summary>
    /// <param name="atStart">At start the store is also swept (messages passed by every upstream, expired ones); a reopen writes nothing, so it works on a full disk.</param>
    private void OpenFiles(bool atStart)
    {
        var files = new StoreFiles(DataFilePath, LogFilePath, _sync, _options.LogPreallocateBytes, note =>
        {
            _metrics.Increment("outbox_log_mended_total");
            _logger.LogMended(LogFilePath, note);
        });
        try
        {
            var store = new OpenStore(files, _options, ReportCorruptChunk);
            SwapStore(() => store);
            ReadState(store, atStart);
        }
        catch
        {
            SwapStore(() => null);
            files.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One line when the store opens on a disk without room for what it must write next. Short of
    /// room for the log's checkpoint, it is tried at once: whether it fits is what counts.
    /// </summary>
    private void ReportFullDiskAtOpen()
    {
        var free = FreeSpaceOrNull();
        var log = LogBytesNow;
        if (free is { } known && known < log + CheckpointRoom && !_reopenNeeded) Checkpoint(quiet: true);
        free = FreeSpaceOrNull();
        log = LogBytesNow;
        var belowWatermark = free is { } f && _options.MinFreeDiskBytes > 0 && f - log < _options.MinFreeDiskBytes;
        if (_diskFull || belowWatermark) _logger.OpenedOnFullDisk(DataFilePath, (free ?? 0) >> 20, log >> 20);
    }

    private void ReadState(OpenStore store, bool atStart)
    {
        _compactor.ForgetNoted();
        _dropper.Forget();
        _lastSequence = _lastCommitted = Math.Max(store.Chunks.HighestSequence(), store.Totals.StoredSequence);
        lock (_cursors)
        {
            _cursors.Clear();
            foreach (var (upstream, through) in store.ReadCursors()) _cursors[upstream] = through;
        }
        (_count, _bytes) = store.Totals.Read(store.Chunks);
        NoteLogSize();
        if (!atStart) return; // confirmed messages still queued for deletion stay queued
        _toDelete.Clear(); // what they held is at or below a cursor: SweepPassedMessages below removes it
        try
        {
            SweepPassedMessages();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The disk full or failing: the store is read and forwarded all the same, and swept at the next opening.
            WriteFailed("deleting messages every upstream has passed", ex, inTransaction: true);
        }
        SweepExpired();
        NoteLogSize();
    }

    /// <summary>Moves a store that cannot be used aside (kept for inspection), reports it, and opens a new one.</summary>
    private void ReplaceCorruptStore(string cause)
    {
        var aside = StoreFiles.MoveAside(DataFilePath, LogFilePath);
        _metrics.Increment("outbox_corrupt_stores_total");
        _logger.Corrupt(DataFilePath, aside, cause);
        OpenFiles(atStart: true);
        // The old high-water mark is lost with the file: continue far above anything it can have
        // reached, so no new message reuses an id a consumer has already seen.
        _lastSequence = _lastCommitted = Math.Max(_lastSequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
    }

    /// <summary>Closes and opens the store files again after a failed write; false while that fails too.</summary>
    private bool TryReopen()
    {
        var sequence = _lastSequence;
        _reopenNeeded = false; // set again by a write that fails while opening
        // Readers wait for the new store rather than find none and take the outbox for drained.
        _storeSwap.EnterWriteLock();
        try
        {
            _store?.Files.Dispose();
            OpenFiles(atStart: false);
        }
        catch (Exception ex) when (StoreFiles.IsStoreFailure(ex))
        {
            // The writer lives on: it keeps refusing, and tries again a moment later.
            _reopenNeeded = true;
            _retryAt = DeadlineAfter(RetryInterval);
            _logger.ReopenFailed(ex.Message);
            return false;
        }
        finally
        {
            _storeSwap.ExitWriteLock();
        }
        Interlocked.Exchange(ref _committed, NewSignal()).TrySetResult(); // readers that found nothing read again
        // Never reuse a sequence the failed commit handed out, even if the store now says less.
        _lastSequence = _lastCommitted = Math.Max(sequence, _lastSequence);
        _compactor.ResumeRescan(_lastCommitted); // the small chunks noted before are forgotten: the rescan covers them
        if (_reopenNeeded) return false;
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
