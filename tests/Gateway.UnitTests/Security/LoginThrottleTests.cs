using System.Net;
using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class LoginThrottleTests
{
    private static readonly IPAddress Guesser = IPAddress.Parse("192.0.2.7");

    [Fact]
    public void After_the_allowed_failures_a_source_is_held_back_for_a_doubling_time_up_to_the_longest()
    {
        var clock = new ManualClock();
        var throttle = new LoginThrottle(3, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), clock);

        Assert.Equal((1, TimeSpan.Zero), throttle.Failed(Guesser));
        Assert.Equal((2, TimeSpan.Zero), throttle.Failed(Guesser));
        Assert.Equal(TimeSpan.Zero, throttle.HeldBackFor(Guesser));
        Assert.Equal((3, TimeSpan.FromSeconds(2)), throttle.Failed(Guesser));
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.HeldBackFor(Guesser));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.Zero, throttle.HeldBackFor(Guesser));
        Assert.Equal((4, TimeSpan.FromSeconds(4)), throttle.Failed(Guesser));
        Assert.Equal((5, TimeSpan.FromSeconds(8)), throttle.Failed(Guesser));
        Assert.Equal((6, TimeSpan.FromSeconds(10)), throttle.Failed(Guesser));
        Assert.Equal((7, TimeSpan.FromSeconds(10)), throttle.Failed(Guesser));
    }

    [Fact]
    public void Sources_are_counted_apart_and_an_IPv4_address_over_IPv6_is_the_same_source()
    {
        var throttle = new LoginThrottle(1, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), new ManualClock());
        throttle.Failed(Guesser.MapToIPv6());

        Assert.Equal(TimeSpan.FromSeconds(5), throttle.HeldBackFor(Guesser));
        Assert.Equal(TimeSpan.Zero, throttle.HeldBackFor(IPAddress.Parse("192.0.2.8")));
    }

    [Fact]
    public void An_address_quiet_long_enough_starts_afresh()
    {
        var clock = new ManualClock();
        var throttle = new LoginThrottle(2, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), clock);
        throttle.Failed(Guesser);
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal((1, TimeSpan.Zero), throttle.Failed(Guesser));
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
