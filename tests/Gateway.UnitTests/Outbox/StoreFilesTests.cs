using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class StoreFilesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("store-files-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string DataPath => Path.Combine(_folder, "outbox.db");
    private string LogPath => Path.Combine(_folder, "outbox-wal.db");

    private StoreFiles Open(List<string>? notes = null) => new(DataPath, LogPath, FsyncDiskSync.Instance, 1 << 20, notes is null ? null : notes.Add);

    [Fact]
    public void What_is_committed_and_synced_is_there_after_reopening_and_the_log_keeps_its_file_size()
    {
        long logFile;
        using (var files = Open())
        {
            files.Db.GetCollection("docs").Insert(new LiteDB.BsonDocument { ["_id"] = 1 });
            files.SyncLog();
            Assert.True(files.LogBytes > 0);
            logFile = files.Sizes.Log;
        }
        using var again = Open();
        Assert.Equal(1, again.Db.GetCollection("docs").Count());
        Assert.Equal(logFile, again.Sizes.Log);
    }

    [Fact]
    public void The_files_cannot_be_opened_twice_and_that_is_not_taken_for_corruption()
    {
        using var files = Open();
        var ex = Assert.ThrowsAny<IOException>(() => Open());
        Assert.False(StoreFiles.IsCorruption(ex));
    }

    [Fact]
    public void A_data_file_that_is_not_a_database_fails_as_corruption_and_leaves_nothing_open()
    {
        File.WriteAllBytes(DataPath, Enumerable.Range(0, 65536).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var ex = Assert.ThrowsAny<Exception>(() => Open());
        Assert.True(StoreFiles.IsCorruption(ex), ex.ToString());

        var aside = StoreFiles.MoveAside(DataPath, LogPath); // possible only if both files were closed
        Assert.True(File.Exists(aside));
        Assert.Single(Directory.GetFiles(_folder, "outbox-wal.db.corrupt-*"));
        using var fresh = Open();
        Assert.Equal(0, fresh.Db.GetCollection("docs").Count());
    }

    [Fact]
    public void Damage_inside_a_wrapper_exception_counts_but_an_io_error_around_it_does_not()
    {
        Assert.True(StoreFiles.IsCorruption(new AggregateException(new InvalidDataException("bad chunk"))));
        Assert.False(StoreFiles.IsCorruption(new IOException("No space left on device", new InvalidDataException("x"))));
        Assert.False(StoreFiles.IsCorruption(new UnauthorizedAccessException()));
    }
}
