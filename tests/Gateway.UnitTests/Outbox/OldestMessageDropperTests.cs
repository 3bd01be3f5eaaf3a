using Gateway.Core.Messages;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class OldestMessageDropperTests : IDisposable
{
    private readonly MemoryChunkStore _store = new();
    private readonly OldestMessageDropper _dropper = new(maxGroupMessages: 16);
    private readonly List<(IncomingMessage Message, int Route, int RecordSize)> _group = [];
    private byte[]? _groupDead;
    private long _count = 100, _bytes = 1000;

    public void Dispose() => _store.Dispose();

    private bool Drop(int route)
    {
        var dropped = false;
        _store.InTransaction(() => dropped = _dropper.TryDrop(_store.Chunks, route, _group, ref _groupDead, ref _count, ref _bytes));
        return dropped;
    }

    private void InGroup(string topic, int route) => _group.Add((OutboxFolder.Message(topic, topic), route, 0));

    [Fact]
    public void Drops_take_the_oldest_of_the_route_first_then_the_groups_own_then_nothing()
    {
        _store.Insert(1, 0, "a/1");
        _store.Insert(2, 1, "b/22");
        InGroup("b/new", 1);
        InGroup("a/new", 0);

        Assert.True(Drop(1));
        Assert.Equal(["a/1"], _store.Topics());
        Assert.Equal((99L, 996L), (_count, _bytes));

        Assert.True(Drop(1)); // nothing stored of route 1: the group's own
        Assert.True(DeletionBitmap.IsSet(_groupDead, 0));
        Assert.False(DeletionBitmap.IsSet(_groupDead, 1));
        Assert.Equal((98L, 991L), (_count, _bytes));

        Assert.False(Drop(1));
        Assert.Equal(["a/1"], _store.Topics()); // never another route's
    }

    [Fact]
    public void A_route_with_nothing_left_is_looked_for_again_once_a_message_of_it_is_stored()
    {
        Assert.False(Drop(0));
        _store.Insert(1, 0, "a/1");
        Assert.False(Drop(0)); // known to be exhausted: not read again

        _dropper.NoteStored(0);
        Assert.True(Drop(0));
        Assert.Empty(_store.Topics());
    }
}
