using Gateway.Hardware;

namespace Gateway.UnitTests.Hardware;

public sealed class ButtonDebouncerTests
{
    /// <summary>Feeds a level every 5 ms from <paramref name="fromMs"/> to <paramref name="toMs"/> and returns the presses seen.</summary>
    private static List<(ButtonPress Press, long AtMs)> Feed(ButtonDebouncer button, bool pressed, long fromMs, long toMs)
    {
        var seen = new List<(ButtonPress, long)>();
        for (var t = fromMs; t < toMs; t += 5)
        {
            var press = button.Sample(pressed, t);
            if (press != ButtonPress.None) seen.Add((press, t));
        }
        return seen;
    }

    [Fact]
    public void Contact_bounce_shorter_than_the_settle_time_is_no_press()
    {
        var button = new ButtonDebouncer();
        var seen = new List<(ButtonPress, long)>();
        for (var t = 0L; t < 200; t += 10) seen.AddRange(Feed(button, t % 20 == 0, t, t + 10));
        seen.AddRange(Feed(button, false, 200, 400));
        Assert.Empty(seen);
    }

    [Fact]
    public void A_press_and_release_is_one_short_press_on_the_release()
    {
        var button = new ButtonDebouncer();
        Assert.Empty(Feed(button, true, 0, 400));
        var seen = Feed(button, false, 400, 600);
        var press = Assert.Single(seen);
        Assert.Equal(ButtonPress.Short, press.Press);
        Assert.InRange(press.AtMs, 430, 440);
    }

    [Fact]
    public void Holding_for_five_seconds_is_one_long_press_while_held_and_no_short_press_on_the_release()
    {
        var button = new ButtonDebouncer();
        var held = Feed(button, true, 0, 7_000);
        var press = Assert.Single(held);
        Assert.Equal(ButtonPress.Long, press.Press);
        Assert.InRange(press.AtMs, 5_000, 5_010);
        Assert.Empty(Feed(button, false, 7_000, 8_000));
    }

    [Fact]
    public void A_release_just_before_five_seconds_is_a_short_press()
    {
        var button = new ButtonDebouncer();
        Assert.Empty(Feed(button, true, 0, 4_950));
        Assert.Equal(ButtonPress.Short, Assert.Single(Feed(button, false, 4_950, 5_500)).Press);
    }
}
