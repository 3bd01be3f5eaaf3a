using Gateway.Core.Messages;
using Gateway.Storage.LiteDb;
using LiteDB;

namespace Gateway.UnitTests.Outbox;

/// <summary>A <see cref="ChunkStore"/> on an in-memory LiteDB, with what it reports as damaged.</summary>
internal sealed class MemoryChunkStore : IDisposable
{
    public MemoryChunkStore()
    {
        Db = new LiteDatabase(new MemoryStream());
        Expiry = new ExpiryIndex(Db);
        Chunks = new ChunkStore(Db, Expiry, (first, last, cause) => Reported.Add((first, last, cause)));
    }

    public LiteDatabase Db { get; }
    public ExpiryIndex Expiry { get; }
    public ChunkStore Chunks { get; }
    public List<(long First, long Last, string Cause)> Reported { get; } = [];

    /// <summary>Commits one chunk from <paramref name="first"/> on, a message per topic (payload: the topic's bytes), under route <paramref name="route"/>.</summary>
    public void Insert(long first, int route, params string[] topics)
    {
        var items = topics.Select(t =>
        {
            var message = OutboxFolder.Message(t, t);
            return (message, route, ChunkCodec.RecordSize(message, route));
        }).ToList();
        InTransaction(() => Chunks.Insert(first, items, null, 0));
    }

    public void InTransaction(Action write)
    {
        Db.BeginTrans();
        write();
        Chunks.WriteEdits();
        Db.Commit();
        Chunks.NoteCommitted();
    }

    public bool MarkGone(long sequence)
    {
        var gone = false;
        InTransaction(() =>
        {
            var size = -1;
            gone = Chunks.MarkGone(sequence, ref size);
        });
        return gone;
    }

    public List<StoredMessage> ReadAll()
    {
        var read = new List<StoredMessage>();
        Chunks.Read(0, long.MaxValue, int.MaxValue, int.MaxValue, read);
        return read;
    }

    public List<string> Topics() => ReadAll().Select(m => m.Message.Topic).ToList();

    public void Dispose() => Db.Dispose();
}
