using Gateway.Status;

namespace Gateway.UnitTests.Status;

/// <summary>The dashboard's small computations: the charts' ring buffer, rates, the drain ETA, link states.</summary>
public sealed class StatusFiguresTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 22, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_history_keeps_the_newest_samples_oldest_first_once_full()
    {
        var history = new StatusHistory(3);
        for (var i = 1; i <= 5; i++) history.Add(new StatusSample(i, i * 10, 0, i));

        Assert.Equal([3L, 4L, 5L], history.ToArray().Select(s => s.At));
        Assert.Equal(30, history.ToArray()[0].IngestPerSecond);
    }

    [Fact]
    public void The_history_before_it_is_full_holds_what_was_added()
    {
        var history = new StatusHistory(3600);
        history.Add(new StatusSample(7, 1, 2, 3));

        Assert.Equal([new StatusSample(7, 1, 2, 3)], history.ToArray());
    }

    [Fact]
    public void A_rate_is_the_counters_increase_per_second_and_0_at_first_and_after_a_reset()
    {
        var rate = new CounterRate();

        Assert.Equal(0, rate.Next(1000, 0)); // nothing to compare with
        Assert.Equal(500, rate.Next(1500, 1000));
        Assert.Equal(250, rate.Next(2000, 3000)); // two seconds for 500
        Assert.Equal(0, rate.Next(10, 4000)); // the counter went down: its source restarted
        Assert.Equal(90, rate.Next(100, 5000));
    }

    [Fact]
    public void The_drain_eta_is_the_backlog_over_its_net_fall_per_second()
    {
        var drain = new DrainEstimate();

        Assert.Null(drain.Next(1000, 0)); // one reading: no pace yet
        Assert.Equal(9.0, drain.Next(900, 1000)); // 100 a second, 900 left
        Assert.Equal(4.0, drain.Next(400, 6000)); // 600 in 6 s from the first reading
    }

    [Fact]
    public void The_drain_eta_is_unknown_while_the_backlog_holds_or_grows_and_0_without_one()
    {
        var drain = new DrainEstimate();
        drain.Next(100, 0);

        Assert.Null(drain.Next(100, 1000));
        Assert.Null(drain.Next(150, 2000));
        Assert.Equal(0, drain.Next(0, 3000));
    }

    [Fact]
    public void The_drain_eta_follows_the_last_ten_readings_only()
    {
        var drain = new DrainEstimate();
        drain.Next(10_000, 0); // long ago, when it fell fast
        for (var i = 1; i <= DrainEstimate.Window; i++) drain.Next(1000 - i, i * 1000L); // then one a second

        Assert.Equal(989.0, drain.Next(989, 11_000)); // one a second over the window, not the early fall
    }

    [Fact]
    public void A_link_is_reconnecting_when_lost_down_after_a_minute_and_connected_again_since_it_came_back()
    {
        var clock = new LinkStateClock(Start);

        Assert.Equal(("connected", Start), clock.Observe("cloud", connected: true, blocked: false, Start.AddSeconds(1)));
        var lost = Start.AddSeconds(10);
        Assert.Equal(("reconnecting", lost), clock.Observe("cloud", false, false, lost));
        Assert.Equal(("reconnecting", lost), clock.Observe("cloud", false, false, lost.AddSeconds(59)));
        Assert.Equal(("down", lost), clock.Observe("cloud", false, false, lost.AddSeconds(61))); // down since it was lost
        var back = lost.AddSeconds(90);
        Assert.Equal(("connected", back), clock.Observe("cloud", true, false, back));
        Assert.Equal(("blocked", back.AddSeconds(1)), clock.Observe("cloud", true, true, back.AddSeconds(1)));
    }

    [Fact]
    public void A_link_never_connected_is_down_a_minute_after_the_start()
    {
        var clock = new LinkStateClock(Start);

        Assert.Equal(("reconnecting", Start), clock.Observe("cloud", false, false, Start.AddSeconds(5)));
        Assert.Equal(("down", Start), clock.Observe("cloud", false, false, Start.AddSeconds(65)));
    }
}
