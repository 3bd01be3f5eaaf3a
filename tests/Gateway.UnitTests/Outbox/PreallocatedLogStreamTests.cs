using Gateway.Storage.LiteDb;
using LiteDB;

namespace Gateway.UnitTests.Outbox;

/// <summary>
/// LiteDB's log in a preallocated file: what a reopen takes for the log after commits that were not
/// checkpointed (as after a crash), after the log was emptied and refilled, and after damage.
/// </summary>
public sealed class PreallocatedLogStreamTests : IDisposable
{
    private const int Page = PreallocatedLogStream.PageSize;
    private const long Preallocate = 2 << 20;
    private readonly string _folder = Directory.CreateTempSubdirectory("gateway-log-").FullName;
    private readonly List<string> _notes = [];

    private string DataPath => Path.Combine(_folder, "outbox.db");
    private string LogPath => Path.Combine(_folder, "outbox-wal.db");
    private const int Slot = 4096 + Page;

    private static long SlotOffset(long page) => 4096 + page * Slot;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>LiteDB over the outbox's streams; with <paramref name="checkpointOnClose"/> false, closing leaves the log as a crash would.</summary>
    private sealed class Store : IDisposable
    {
        public Store(PreallocatedLogStreamTests test, bool checkpointOnClose)
        {
            Data = new DurableFileStream(new FileStream(test.DataPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 0), FsyncDiskSync.Instance);
            Log = StoreFiles.OpenLog(test.LogPath, FsyncDiskSync.Instance, Preallocate, test._notes.Add);
            Db = new LiteDatabase(Data, new BsonMapper(), Log);
            if (!checkpointOnClose) Db.Pragma("CHECKPOINT", 0); // stays in the file: later opens do not checkpoint on close either
        }

        public DurableFileStream Data { get; }
        public PreallocatedLogStream Log { get; }
        public LiteDatabase Db { get; }
        public ILiteCollection<BsonDocument> Docs => Db.GetCollection("docs");

        public void Dispose()
        {
            Db.Dispose();
            Log.Dispose();
            Data.Dispose();
        }
    }

    [Fact]
    public void Commits_left_in_the_log_are_there_after_reopening_and_the_file_keeps_its_size()
    {
        long fileBytes;
        using (var store = new Store(this, checkpointOnClose: false))
        {
            fileBytes = store.Log.FileBytes;
            for (var i = 1; i <= 50; i++) store.Docs.Insert(new BsonDocument { ["_id"] = i, ["v"] = new string('x', 500) });
            Assert.True(store.Log.Length > 0);
            Assert.Equal(0, store.Log.Length % Page);
            store.Log.Flush();
            Assert.Equal(fileBytes, store.Log.FileBytes);
        }

        using var reopened = new Store(this, checkpointOnClose: true);
        Assert.Equal(50, reopened.Docs.Count());
        Assert.Equal(fileBytes, reopened.Log.FileBytes);
        reopened.Db.Checkpoint();
        Assert.Equal(0, reopened.Log.Length);
        Assert.Equal(fileBytes, reopened.Log.FileBytes);
        Assert.Equal(50, reopened.Docs.Count());
    }

    [Fact]
    public void Pages_of_an_earlier_filling_of_the_log_are_never_replayed()
    {
        // The first filling takes many slots; the second overwrites only the first few. Read to the
        // file's end, the log would replay the first filling's later pages over newer data.
        using (var store = new Store(this, checkpointOnClose: false))
        {
            store.Docs.InsertBulk(Enumerable.Range(1, 300).Select(i => new BsonDocument { ["_id"] = i, ["v"] = "v1-" + new string('a', 400) }));
            store.Db.Checkpoint();
            store.Docs.Update(new BsonDocument { ["_id"] = 1, ["v"] = "v2" });
            store.Docs.Delete(2);
            store.Db.Checkpoint();
            store.Docs.Insert(new BsonDocument { ["_id"] = 1000, ["v"] = "late" });
            store.Log.Flush();
        }

        using var reopened = new Store(this, checkpointOnClose: true);
        Assert.Equal("v2", reopened.Docs.FindById(1)["v"].AsString);
        Assert.Null(reopened.Docs.FindById(2));
        Assert.Equal("late", reopened.Docs.FindById(1000)["v"].AsString);
        Assert.Equal(300, reopened.Docs.Count());
        Assert.Empty(_notes);
    }

    [Fact]
    public void A_damaged_page_ends_the_log_there_and_the_commit_it_held_is_not_replayed()
    {
        long before, after;
        using (var store = new Store(this, checkpointOnClose: false))
        {
            store.Docs.Insert(new BsonDocument { ["_id"] = 1, ["v"] = "kept" });
            before = store.Log.Length;
            store.Docs.Insert(new BsonDocument { ["_id"] = 2, ["v"] = "torn" });
            after = store.Log.Length;
            store.Log.Flush();
        }
        Assert.True(after > before);
        // A byte of the second commit's last page changes, as a write torn by a power cut leaves it.
        var lastSlot = SlotOffset(after / Page - 1);
        using (var file = new FileStream(LogPath, FileMode.Open))
        {
            file.Position = lastSlot + 4096 + 100;
            var b = file.ReadByte();
            file.Position = lastSlot + 4096 + 100;
            file.WriteByte((byte)(b ^ 0x5a));
        }

        using var reopened = new Store(this, checkpointOnClose: true);
        Assert.Equal(after - Page, reopened.Log.Length);
        Assert.Equal("kept", reopened.Docs.FindById(1)["v"].AsString);
        Assert.Null(reopened.Docs.FindById(2));
    }

    [Fact]
    public void Pages_past_a_gap_are_cleared_so_a_later_reopen_cannot_take_them_for_log()
    {
        var page = new byte[Page];
        using (var log = Open())
        {
            for (var i = 0; i < 5; i++)
            {
                page[0] = (byte)(i + 1);
                log.Write(page, 0, Page);
            }
            log.Flush();
        }
        // Slot 2 never reached the disk (pages written out of order, then a power cut).
        using (var file = new FileStream(LogPath, FileMode.Open))
        {
            file.Position = SlotOffset(2);
            file.Write(new byte[Slot]);
        }

        using (var log = Open())
        {
            Assert.Equal(2 * Page, log.Length);
            Assert.Contains(_notes, n => n.Contains("2 log page(s) past the end", StringComparison.Ordinal));
            log.Position = log.Length;
            page[0] = 9;
            log.Write(page, 0, Page);
            log.Flush();
        }

        using (var log = Open())
        {
            // Slots 3 and 4 still carried the generation: without clearing them, the log would be 5 pages again.
            Assert.Equal(3 * Page, log.Length);
            var read = new byte[Page];
            log.Position = 2 * Page;
            Assert.Equal(Page, log.Read(read, 0, Page));
            Assert.Equal(9, read[0]);
        }
    }

    [Fact]
    public void A_log_longer_than_its_preallocation_grows_and_reads_back_whole()
    {
        long fileBytes, length;
        using (var store = new Store(this, checkpointOnClose: false))
        {
            var before = store.Log.FileBytes;
            store.Docs.InsertBulk(Enumerable.Range(1, 400).Select(i => new BsonDocument { ["_id"] = i, ["v"] = new string((char)('a' + i % 26), 7000) }));
            length = store.Log.Length;
            fileBytes = store.Log.FileBytes;
            Assert.True(length > Preallocate, $"the log holds {length} bytes");
            Assert.True(fileBytes > before);
            store.Log.Flush();
        }

        using var reopened = new Store(this, checkpointOnClose: true);
        Assert.Equal(length, reopened.Log.Length);
        Assert.Equal(fileBytes, reopened.Log.FileBytes);
        Assert.Equal(400, reopened.Docs.Count());
        Assert.Equal(new string((char)('a' + 399 % 26), 7000), reopened.Docs.FindById(399)["v"].AsString);
    }

    [Fact]
    public void A_damaged_header_is_rewritten_from_the_first_page_and_the_log_is_read_back()
    {
        long length;
        using (var store = new Store(this, checkpointOnClose: false))
        {
            store.Docs.Insert(new BsonDocument { ["_id"] = 1, ["v"] = "in the log" });
            length = store.Log.Length;
            store.Log.Flush();
        }
        using (var file = new FileStream(LogPath, FileMode.Open))
        {
            file.Position = 2; // inside the magic: still this layout, read as damaged, never as another one
            file.WriteByte(0xff);
        }

        using (var reopened = new Store(this, checkpointOnClose: false))
        {
            Assert.Equal(length, reopened.Log.Length);
            Assert.Equal("in the log", reopened.Docs.FindById(1)["v"].AsString);
            Assert.Contains(_notes, n => n.Contains("rewritten from the log's first page", StringComparison.Ordinal));
        }
        _notes.Clear();
        using var again = new Store(this, checkpointOnClose: false);
        Assert.Empty(_notes); // the header was mended on disk
        Assert.Equal(length, again.Log.Length);
    }

    [Fact]
    public void A_damaged_header_over_a_checkpointed_log_reads_back_only_what_the_data_file_holds()
    {
        using (var store = new Store(this, checkpointOnClose: true))
            store.Docs.Insert(new BsonDocument { ["_id"] = 1 });
        // Emptied by the checkpoint at close: the first slot holds a page of the generation before.
        // Its page is in the data file already, so reading it back changes nothing.
        using (var file = new FileStream(LogPath, FileMode.Open))
        {
            file.Position = 10; // inside the generation, which is random: flipped, not set (a set byte could already hold its value)
            var b = file.ReadByte();
            file.Position = 10;
            file.WriteByte((byte)(b ^ 0xff));
        }

        using var reopened = new Store(this, checkpointOnClose: true);
        Assert.Equal(1, reopened.Docs.Count());
        Assert.Contains(_notes, n => n.Contains("header was damaged", StringComparison.Ordinal));
    }

    [Fact]
    public void Writes_that_are_not_whole_pages_are_refused_rather_than_stored_unreadably()
    {
        using var log = Open();
        var ex = Assert.Throws<NotSupportedException>(() => log.Write(new byte[100], 0, 100));
        Assert.Contains("whole 8192-byte pages", ex.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => log.SetLength(Page));
    }

    private PreallocatedLogStream Open() =>
        PreallocatedLogStream.Open(new FileStream(LogPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 0), FsyncDiskSync.Instance, Preallocate, _notes.Add);
}
