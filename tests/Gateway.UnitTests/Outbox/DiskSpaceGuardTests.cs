using Gateway.Core.Diagnostics;
using Gateway.Core.Outbox;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class DiskSpaceGuardTests
{
    private const long MiB = 1 << 20;
    private readonly GatewayMetrics _metrics = new();
    private long _free = 1024 * MiB, _now = 5_000;
    private int _readings;
    private Exception? _readingFails;

    private DiskSpaceGuard Guard(long minFree = 100 * MiB) => new(minFree, () =>
    {
        _readings++;
        if (_readingFails is { } ex) throw ex;
        return _free;
    }, _metrics, () => _now);

    [Fact]
    public void Below_the_watermark_messages_are_refused_and_counted_until_space_returns()
    {
        var guard = Guard();
        guard.Check(100);
        _free = 99 * MiB;
        _now += 1000;

        var refused = Assert.Throws<OutboxRejectedException>(() => guard.Check(100));
        Assert.Equal(OutboxRejection.QuotaExceeded, refused.Reason);
        Assert.Contains("the disk is almost full (99 MiB free", refused.Message);
        Assert.Equal(1, _metrics.Get("messages_refused_disk_total"));

        _free = 500 * MiB; // close to the watermark every check asks the disk: no second to wait
        guard.Check(100);
    }

    [Fact]
    public void The_log_waiting_for_its_checkpoint_does_not_count_as_free()
    {
        var guard = Guard();
        _free = 150 * MiB;
        guard.Check(1);
        guard.NoteLogSize(60 * MiB);
        Assert.Throws<OutboxRejectedException>(() => guard.Check(1));
        guard.NoteLogSize(0);
        guard.Check(1);
    }

    [Fact]
    public void With_room_to_spare_the_disk_is_asked_once_a_second()
    {
        var guard = Guard();
        for (var i = 0; i < 100; i++) guard.Check(1000);
        Assert.Equal(1, _readings);
        _now += 1000;
        guard.Check(1000);
        Assert.Equal(2, _readings);
        Assert.Equal(1024 * MiB, guard.FreeBytes);
    }

    [Fact]
    public void What_was_taken_in_since_the_last_reading_brings_the_next_one_forward()
    {
        var guard = Guard();
        _free = 300 * MiB;
        guard.Check(1);
        Assert.Equal(1, _readings);
        guard.Check((int)(60 * MiB)); // counted twice (log and data file): the estimate is now below twice the watermark
        Assert.Equal(2, _readings);
    }

    [Fact]
    public void A_reading_that_fails_keeps_the_last_one()
    {
        var guard = Guard();
        guard.Check(1);
        _readingFails = new IOException("gone");
        _now += 1000;
        guard.Check(1);
        Assert.Equal(2, _readings);
        Assert.Equal(1024 * MiB, guard.FreeBytes);
    }

    [Fact]
    public void Without_a_watermark_nothing_is_refused()
    {
        var guard = Guard(minFree: 0);
        _free = 0;
        guard.Check(100);
        Assert.Equal(0, _metrics.Get("messages_refused_disk_total"));
    }

    [Fact]
    public void Once_refusing_it_takes_messages_again_only_above_the_watermark_by_a_margin_so_acceptance_does_not_flap()
    {
        var guard = Guard(minFree: 100 * MiB); // margin: a tenth, 10 MiB
        _free = 99 * MiB;
        Assert.Throws<OutboxRejectedException>(() => guard.Check(1));
        Assert.True(guard.Refusing);

        _free = 105 * MiB; // above the watermark, not above it by the margin
        var refused = Assert.Throws<OutboxRejectedException>(() => guard.Check(1));
        Assert.Contains("takes messages again above 110 MiB", refused.Message);

        _free = 111 * MiB;
        guard.Check(1);
        Assert.False(guard.Refusing);
        _free = 105 * MiB; // accepting: the watermark alone counts again
        _now += 1000;
        guard.Check(1);
    }

    [Fact]
    public void A_small_watermark_still_has_a_margin_of_a_few_mebibytes()
    {
        var guard = Guard(minFree: 8 * MiB);
        Assert.Equal(4 * MiB, guard.ResumeMargin);
        _free = 7 * MiB;
        Assert.Throws<OutboxRejectedException>(() => guard.Check(1));
        _free = 11 * MiB;
        Assert.Throws<OutboxRejectedException>(() => guard.Check(1));
        _free = 12 * MiB;
        guard.Check(1);
    }
}
