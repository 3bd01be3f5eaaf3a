using Gateway.Core.Messages;

namespace Gateway.Storage.LiteDb;

/// <summary>
/// <see cref="Gateway.Core.Outbox.WhenFull.DropOldest"/>: makes room for a new message by removing the
/// oldest stored message of the same route, never another route's, or failing that the oldest of
/// the same route among the group being committed. Writer thread only.
/// </summary>
internal sealed class OldestMessageDropper(int maxGroupMessages)
{
    /// <summary>
    /// Per route, the chunk a drop last took from: every message of that route in older chunks is gone,
    /// so the next drop starts there. Forgotten when the store is reopened.
    /// </summary>
    private readonly Dictionary<int, long> _dropFrom = [];

    /// <summary>Routes with nothing stored to drop, until a message of theirs is committed again.</summary>
    private readonly HashSet<int> _exhausted = [];

    /// <summary>When the files are (re)opened.</summary>
    public void Forget()
    {
        _dropFrom.Clear();
        _exhausted.Clear();
    }

    /// <summary>A message of the route was committed: there is something of it to drop again.</summary>
    public void NoteStored(int route) => _exhausted.Remove(route);

    /// <summary>
    /// Removes the oldest stored message of a route (inside the open transaction), or failing that the
    /// oldest of this group's own new ones (<paramref name="group"/>, marked in <paramref name="groupDead"/>),
    /// and takes it off <paramref name="count"/> and <paramref name="bytes"/>; false when the route has nothing.
    /// </summary>
    public bool TryDrop(ChunkStore chunks, int route, List<(IncomingMessage Message, int Route, int RecordSize)> group,
        ref byte[]? groupDead, ref long count, ref long bytes)
    {
        if (!_exhausted.Contains(route))
        {
            if (chunks.TryDropOldest(route, _dropFrom.GetValueOrDefault(route), out var droppedFrom, out var size))
            {
                _dropFrom[route] = droppedFrom;
                count--;
                bytes -= size;
                return true;
            }
            _exhausted.Add(route);
        }
        for (var j = 0; j < group.Count; j++)
        {
            if (group[j].Route != route || DeletionBitmap.IsSet(groupDead, j)) continue;
            groupDead ??= DeletionBitmap.For(maxGroupMessages);
            DeletionBitmap.Set(groupDead, j);
            count--;
            bytes -= group[j].Message.Payload.Length;
            return true;
        }
        return false;
    }
}
