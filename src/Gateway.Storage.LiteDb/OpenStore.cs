using LiteDB;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// The store's files and the parts that live on them, made afresh at every opening (and reopening
/// after a failed commit, which reads the store anew).
/// </summary>
internal sealed class OpenStore
{
    private const string CursorsCollection = "cursors";

    private readonly ILiteCollection<BsonDocument> _cursors;

    public OpenStore(StoreFiles files, LiteDbOutboxOptions options, Action<long, long, string> reportCorrupt)
    {
        Files = files;
        Expiry = new ExpiryIndex(files.Db);
        Chunks = new ChunkStore(files.Db, Expiry, reportCorrupt);
        Totals = new StoreTotals(files.Db, options.TotalsEveryCommits, options.TotalsEveryBytes, options.TotalsEvery);
        _cursors = files.Db.GetCollection(CursorsCollection);
    }

    public StoreFiles Files { get; }

    public LiteDatabase Db => Files.Db;

    public ChunkStore Chunks { get; }

    public ExpiryIndex Expiry { get; }

    public StoreTotals Totals { get; }

    /// <summary>Every upstream's cursor as stored: everything at or below it was confirmed.</summary>
    public IEnumerable<(string Upstream, long Through)> ReadCursors() =>
        _cursors.FindAll().Select(doc => (doc["_id"].AsString, doc["through"].AsInt64));

    /// <summary>Stores an upstream's cursor, inside the open transaction.</summary>
    public void WriteCursor(string upstream, long through) => _cursors.Upsert(new BsonDocument { ["_id"] = upstream, ["through"] = through });
}
