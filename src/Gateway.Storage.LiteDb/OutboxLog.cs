using Gateway.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Storage.LiteDb;

/// <summary>Every line the outbox logs, for all of its parts (the category stays <see cref="LiteDbOutbox"/>).</summary>
internal static partial class OutboxLog
{
    [LoggerMessage(EventIds.OutboxOpened, LogLevel.Information, "Outbox {Path} opened: {Count} messages stored, last sequence {Sequence}")]
    public static partial void Opened(this ILogger logger, string path, long count, long sequence);

    [LoggerMessage(EventIds.OutboxCommitFailed, LogLevel.Error, "Outbox commit of {Operations} operations failed, their acks are refused: {Cause}")]
    public static partial void CommitFailed(this ILogger logger, int operations, string cause, Exception? ex);

    [LoggerMessage(EventIds.OutboxRescanned, LogLevel.Information, "Outbox: read {Chunks} chunks stored before it opened (through sequence {Through}) for small ones to join: {Joined} joined, {Milliseconds:0} ms of the writer's time")]
    public static partial void Rescanned(this ILogger logger, long chunks, long through, long joined, double milliseconds);

    [LoggerMessage(EventIds.OutboxClosed, LogLevel.Information, "Outbox {Path} closed with {Count} messages stored")]
    public static partial void Closed(this ILogger logger, string path, long count);

    [LoggerMessage(EventIds.OutboxCorrupt, LogLevel.Critical, "Outbox {Path} could not be opened ({Cause}); moved aside to {Aside} and a new, empty store opened")]
    public static partial void Corrupt(this ILogger logger, string path, string aside, string cause);

    [LoggerMessage(EventIds.OutboxCheckpointFailed, LogLevel.Warning, "Outbox checkpoint failed, will try again when next drained: {Cause}")]
    public static partial void CheckpointFailed(this ILogger logger, string cause);

    [LoggerMessage(EventIds.OutboxExpired, LogLevel.Information, "Outbox: removed {Count} expired messages")]
    public static partial void Expired(this ILogger logger, int count);

    [LoggerMessage(EventIds.OutboxSweepFailed, LogLevel.Warning, "Outbox: removing expired messages failed, will try again: {Cause}")]
    public static partial void SweepFailed(this ILogger logger, string cause);

    [LoggerMessage(EventIds.OutboxDropped, LogLevel.Warning, "Outbox full: dropped the {Count} oldest messages of route '{Route}' (WhenFull=DropOldest)")]
    public static partial void Dropped(this ILogger logger, int count, string route);

    [LoggerMessage(EventIds.OutboxReopened, LogLevel.Information, "Outbox reopened after a failed commit: {Count} messages stored")]
    public static partial void Reopened(this ILogger logger, long count);

    [LoggerMessage(EventIds.OutboxReopenFailed, LogLevel.Warning, "Outbox could not be reopened yet, new messages are refused: {Cause}")]
    public static partial void ReopenFailed(this ILogger logger, string cause);

    [LoggerMessage(EventIds.OutboxCorruptChunk, LogLevel.Critical, "Outbox: messages {First}..{Last} cannot be read ({Cause}); skipped, and the chunk is removed")]
    public static partial void CorruptChunk(this ILogger logger, long first, long last, string cause);

    [LoggerMessage(EventIds.OutboxChunkRemoved, LogLevel.Critical, "Outbox: removed a damaged chunk; {Count} messages in it are lost (gateway_messages_lost_corrupt_total)")]
    public static partial void ChunkRemoved(this ILogger logger, int count);

    [LoggerMessage(EventIds.OutboxCompactionFailed, LogLevel.Warning, "Outbox: joining the small chunks {First}..{Last} failed, left as they are: {Cause}")]
    public static partial void CompactionFailed(this ILogger logger, long first, long last, string cause);

    [LoggerMessage(EventIds.OutboxLogMended, LogLevel.Warning, "Outbox log {Path}: {What}")]
    public static partial void LogMended(this ILogger logger, string path, string what);

    [LoggerMessage(EventIds.OutboxSwept, LogLevel.Information, "Outbox: deleted {Count} messages that every configured upstream had already passed")]
    public static partial void Swept(this ILogger logger, int count);

    [LoggerMessage(EventIds.OutboxOpenedOnFullDisk, LogLevel.Warning, "Outbox {Path} opened on a full disk ({Free} MiB free, {Log} MiB of log waiting for its checkpoint): what it holds is read and forwarded; new messages are refused until there is room")]
    public static partial void OpenedOnFullDisk(this ILogger logger, string path, long free, long log);

    [LoggerMessage(EventIds.OutboxDiskFull, LogLevel.Error, "Outbox: no room on the disk for {What} ({Cause}); new messages are refused until there is room, what is stored is still forwarded")]
    public static partial void DiskFull(this ILogger logger, string what, string cause);

    [LoggerMessage(EventIds.OutboxRoomAgain, LogLevel.Information, "Outbox: room on the disk again ({Free} MiB free, log checkpointed); new messages are accepted")]
    public static partial void RoomAgain(this ILogger logger, long free);

    [LoggerMessage(EventIds.OutboxWriterFailed, LogLevel.Critical, "Outbox writer stopped on an unexpected fault; every waiting and new message is refused and the gateway must be restarted: {Cause}")]
    public static partial void WriterFailed(this ILogger logger, string cause, Exception ex);
}
