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

    /// <summary>Every collection the store uses; each exists from the first opening on (see <see cref="CreateCollections"/>).</summary>
    public static readonly string[] Collections =
        [ChunkDocuments.ChunksCollection, ChunkDocuments.GoneCollection, ExpiryIndex.Collection, StoreTotals.Collection, CursorsCollection];

    public OpenStore(StoreFiles files, LiteDbOutboxOptions options, Action<long, long, string> reportCorrupt)
    {
        Files = files;
        CreateCollections(files.Db);
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

    /// <summary>
    /// Creates the collections that do not exist yet, before any reader runs. LiteDB creates a
    /// collection in the transaction of its first insert; a reader on another thread that looks the
    /// collection up meanwhile finds its name in the shared header but reads its page from an older
    /// snapshot, gets a zeroed page, fails with "page type must be collection page" and closes the
    /// engine (LiteDB issue 2792, open in 5.0.21). The gateway hit it when the first message ever
    /// removed from the middle of a chunk created "gone" while a forwarder was reading.
    /// </summary>
    private static void CreateCollections(LiteDatabase db)
    {
        foreach (var name in Collections)
        {
            if (db.CollectionExists(name)) continue;
            var collection = db.GetCollection(name);
            collection.Insert(new BsonDocument { ["_id"] = long.MinValue });
            collection.Delete(long.MinValue);
        }
    }
}
