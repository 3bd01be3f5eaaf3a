using Gateway.Core.Diagnostics;
using Gateway.Status;
using Microsoft.Extensions.Logging;

namespace Gateway.UnitTests.Status;

public sealed class FaultLogTests
{
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 12, 7, 22, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Faults_are_kept_newest_first_up_to_the_capacity()
    {
        var log = new FaultLog(_time);
        for (var i = 0; i < FaultLog.Capacity + 5; i++)
        {
            log.Record(EventIds.OutboxCorruptChunk, "Error", $"chunk {i} is damaged", null);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var kept = log.Recent();
        Assert.Equal(FaultLog.Capacity, kept.Length);
        Assert.Equal($"chunk {FaultLog.Capacity + 4} is damaged", kept[0].Message);
        Assert.Equal("chunk 5 is damaged", kept[^1].Message);
        Assert.All(kept, f => Assert.Equal("corrupt", f.Kind));
    }

    [Fact]
    public void The_same_fault_in_a_row_is_one_entry_counting_its_repeats_with_the_last_time()
    {
        var log = new FaultLog(_time);
        log.Record(EventIds.PublishRefused, "Warning", "refused: the store is full", null);
        _time.Advance(TimeSpan.FromSeconds(3));
        log.Record(EventIds.PublishRefused, "Warning", "refused: the store is full", null);

        var entry = Assert.Single(log.Recent());
        Assert.Equal(("refusal", 2, _time.GetUtcNow()), (entry.Kind, entry.Repeats, entry.At));
    }

    [Fact]
    public void A_link_failure_from_the_confirm_timeout_is_a_stall_and_each_upstream_keeps_its_last_error()
    {
        var log = new FaultLog(_time);
        log.Record(EventIds.UpstreamFailed, "Warning", "Upstream cloud: link to amqp://a/ failed: no confirm for a batch of 5 within 10 s; restarting the link", "cloud");
        log.Record(EventIds.UpstreamFailed, "Warning", "Upstream archive: link to amqp://b/ failed: connection refused", "archive");

        Assert.Equal(["link-failed", "stall"], log.Recent().Select(f => f.Kind));
        Assert.Contains("no confirm", log.LastLinkError("cloud")!.Message, StringComparison.Ordinal);
        Assert.Contains("refused", log.LastLinkError("archive")!.Message, StringComparison.Ordinal);
        Assert.Null(log.LastLinkError("other"));
    }

    [Fact]
    public void Events_that_are_not_faults_are_not_kept()
    {
        var log = new FaultLog(_time);
        log.Record(EventIds.UpstreamConnected, "Information", "Upstream cloud: connected", "cloud");
        log.Record(EventIds.OutboxOpened, "Warning", "opened", null);

        Assert.Empty(log.Recent());
    }

    [Fact]
    public void The_logging_provider_hands_over_kept_warnings_with_their_upstream_and_nothing_below_warning()
    {
        var log = new FaultLog(_time);
        using var provider = new FaultLoggerProvider(log);
        var logger = provider.CreateLogger("Gateway.Core.Forwarding.Forwarder");

        Assert.False(logger.IsEnabled(LogLevel.Information));
        logger.Log(LogLevel.Warning, new EventId(EventIds.UpstreamFailed), "Upstream {Upstream}: link to {Endpoint} failed: {Cause}", "cloud", "amqp://a/", "refused");
        logger.Log(LogLevel.Information, new EventId(EventIds.UpstreamFailed), "Upstream {Upstream}: quiet", "cloud");

        var entry = Assert.Single(log.Recent());
        Assert.Equal(("Warning", "Upstream cloud: link to amqp://a/ failed: refused"), (entry.Level, entry.Message));
        Assert.Equal(entry.Message, log.LastLinkError("cloud")!.Message);
    }
}

/// <summary>A clock that moves only when told.</summary>
internal sealed class ManualTime(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
