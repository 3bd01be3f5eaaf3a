using Gateway.Storage.LiteDb;
using LiteDB;

namespace Gateway.UnitTests.Outbox;

public sealed class ChunkStoreTests : IDisposable
{
    private readonly MemoryChunkStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Readers_skip_messages_marked_gone_and_the_chunk_is_deleted_with_its_last_message()
    {
        _store.Insert(1, 0, "t/1", "t/2", "t/3");
        _store.Insert(4, 0, "t/4");

        Assert.True(_store.MarkGone(2));
        Assert.False(_store.MarkGone(2)); // gone already
        Assert.Equal(["t/1", "t/3", "t/4"], _store.Topics());
        Assert.Equal(1, _store.Db.GetCollection("gone").Count());

        Assert.True(_store.MarkGone(1));
        Assert.True(_store.MarkGone(3));
        Assert.Equal(["t/4"], _store.Topics());
        Assert.Equal(0, _store.Db.GetCollection("gone").Count());
        Assert.Equal(4L, _store.Chunks.HighestSequence());
        Assert.Equal([4L], _store.Chunks.ChunksAbove(0).Select(c => c.Last));
    }

    [Fact]
    public void Reading_after_a_sequence_starts_inside_its_chunk_and_stops_at_the_count()
    {
        _store.Insert(10, 0, "t/10", "t/11", "t/12", "t/13");
        var read = new List<Gateway.Core.Messages.StoredMessage>();
        _store.Chunks.Read(11, long.MaxValue, 2, int.MaxValue, read);
        Assert.Equal([12L, 13L], read.Select(m => m.Sequence));
    }

    [Fact]
    public void A_drop_takes_the_oldest_stored_message_of_its_route_and_says_where_it_was()
    {
        _store.Insert(1, 0, "a/1");
        _store.Insert(2, 1, "b/2", "b/3");
        _store.Insert(4, 1, "b/4");

        long from = 0;
        int size = 0;
        _store.InTransaction(() => Assert.True(_store.Chunks.TryDropOldest(1, 0, out from, out size)));
        Assert.Equal(3, from); // the chunk 2..3
        Assert.Equal("b/2".Length, size);
        Assert.Equal(["a/1", "b/3", "b/4"], _store.Topics());

        _store.InTransaction(() => Assert.False(_store.Chunks.TryDropOldest(2, 0, out _, out _)));
        Assert.Equal(3, _store.ReadAll().Count);
    }

    [Fact]
    public void A_damaged_chunk_is_reported_and_skipped_and_its_quarantine_takes_off_what_was_still_stored()
    {
        _store.Insert(1, 0, "t/1");
        _store.Insert(2, 0, "t/2", "t/three");
        _store.Insert(4, 0, "t/4");
        Assert.True(_store.MarkGone(2));
        var chunks = _store.Db.GetCollection("chunks");
        var damaged = chunks.FindById(3L);
        damaged["m"] = new byte[] { 1, 200, 3 };
        chunks.Update(damaged);

        Assert.Equal(["t/1", "t/4"], _store.Topics());
        Assert.Equal((2L, 3L), (_store.Reported.Single().First, _store.Reported.Single().Last));

        (int Messages, long Bytes) lost = default;
        _store.InTransaction(() => lost = _store.Chunks.Quarantine(2, 3));
        Assert.Equal((1, (long)"t/three".Length), lost);
        Assert.Null(chunks.FindById(3L));
    }

    [Fact]
    public void The_totals_are_added_up_from_the_chunks_less_what_is_gone()
    {
        _store.Insert(1, 0, "t/1", "t/22");
        _store.Insert(3, 0, "t/333");
        Assert.True(_store.MarkGone(2));

        Assert.Equal(2, _store.Chunks.CountAll());
        Assert.Equal("t/1".Length + "t/333".Length, _store.Chunks.BytesAll());
        Assert.Equal((1L, (long)"t/333".Length), _store.Chunks.AddedAfter(2));
        Assert.Equal((2L, (long)("t/1".Length + "t/333".Length)), _store.Chunks.AddedAfter(0));
    }

    [Fact]
    public void Consecutive_chunks_joined_read_back_the_same_messages_under_the_last_ones_key()
    {
        _store.Insert(1, 0, "t/1");
        _store.Insert(2, 0, "t/2", "t/3");
        _store.Insert(4, 0, "t/4");
        var run = _store.Chunks.ChunksAbove(0).ToList();

        _store.InTransaction(() => _store.Chunks.ReplaceWithJoined(run, ChunkStore.Join(run)));

        Assert.Equal(["t/1", "t/2", "t/3", "t/4"], _store.Topics());
        var joined = Assert.Single(_store.Chunks.ChunksAbove(0));
        Assert.Equal((1L, 4L, 4, 12L), (joined.First, joined.Last, joined.Count, joined.PayloadBytes));
    }

    [Fact]
    public void A_run_holding_a_message_that_does_not_decode_is_never_joined()
    {
        _store.Insert(1, 0, "t/1");
        _store.Insert(2, 0, "t/2");
        var run = _store.Chunks.ChunksAbove(0).ToList();
        var blob = (byte[])run[1].Blob!.Clone();
        blob[5] = 0x7F; // the record's length: it now runs past the end of the chunk
        var damaged = run[1] with { Blob = Resealed(blob) };

        Assert.Throws<InvalidDataException>(() => ChunkStore.Join([run[0], damaged]));
    }

    /// <summary>The chunk with its checksum written again, as if the damage happened before it was sealed.</summary>
    private static byte[] Resealed(byte[] chunk)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(1), System.IO.Hashing.Crc32.HashToUInt32(chunk.AsSpan(5)));
        return chunk;
    }

    [Fact]
    public void Finding_what_may_leave_reads_only_stored_messages_up_to_the_sequence()
    {
        _store.Insert(1, 0, "keep/1", "go/2");
        _store.Insert(3, 0, "go/3", "go/4");
        _store.Insert(5, 0, "go/5");
        Assert.True(_store.MarkGone(3));

        Assert.Equal([2L, 4L], _store.Chunks.FindStored(4, (topic, _) => topic.StartsWith("go/", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_message_that_goes_takes_its_expiry_entry_with_it()
    {
        _store.InTransaction(() => _store.Expiry.Add(1, DateTimeOffset.UtcNow.AddSeconds(-1)));
        _store.Insert(1, 0, "t/1");
        Assert.Equal([1L], _store.Expiry.DueBy(DateTimeOffset.UtcNow));

        Assert.True(_store.MarkGone(1));
        Assert.Empty(_store.Expiry.DueBy(DateTimeOffset.UtcNow));
        Assert.Equal(0, _store.Expiry.Count);
    }

    [Fact]
    public void A_deletion_bitmap_counts_only_its_own_bits()
    {
        var bits = DeletionBitmap.For(10);
        Assert.Equal(2, bits.Length);
        DeletionBitmap.Set(bits, 0);
        DeletionBitmap.Set(bits, 9);
        Assert.True(DeletionBitmap.IsSet(bits, 9));
        Assert.False(DeletionBitmap.IsSet(bits, 8));
        Assert.False(DeletionBitmap.IsSet(bits, 64)); // past the end: not set
        Assert.False(DeletionBitmap.IsSet(null, 0));
        Assert.Equal(2, DeletionBitmap.CountSet(bits, 10));
        Assert.Equal(1, DeletionBitmap.CountSet(bits, 9));
    }

    [Fact]
    public void A_chunk_head_without_its_payload_sum_is_read_as_unknown()
    {
        var doc = new BsonDocument { ["_id"] = 5L, ["f"] = 3L, ["n"] = 3, ["m"] = new byte[] { 1 } };
        var chunk = ChunkDocuments.ToStoredChunk(doc);
        Assert.Equal((3L, 5L, 3, -1L, 1), (chunk.First, chunk.Last, chunk.Count, chunk.PayloadBytes, chunk.Size));
        Assert.Equal(int.MaxValue, ChunkDocuments.ToStoredChunk(new BsonDocument { ["_id"] = 5L, ["f"] = 3L, ["n"] = 3, ["m"] = "text" }).Size);
    }
}
