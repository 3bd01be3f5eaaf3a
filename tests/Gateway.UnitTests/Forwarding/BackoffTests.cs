using Gateway.Core.Forwarding;

namespace Gateway.UnitTests.Forwarding;

public sealed class BackoffTests
{
    [Fact]
    public void Delays_grow_to_the_ceiling_with_jitter_and_restart_after_a_reset()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), new Random(42));
        var delays = Enumerable.Range(0, 10).Select(_ => backoff.Next().TotalMilliseconds).ToArray();

        Assert.InRange(delays[0], 50, 100);
        Assert.InRange(delays[1], 100, 200);
        Assert.InRange(delays[2], 200, 400);
        Assert.All(delays[5..], d => Assert.InRange(d, 1000, 2000));
        Assert.True(delays.Distinct().Count() > 5, "no jitter");

        backoff.Reset();
        Assert.InRange(backoff.Next().TotalMilliseconds, 50, 100);
    }

    [Fact]
    public void With_two_endpoints_each_step_of_growth_covers_a_walk_of_both()
    {
        // An active/standby pair: the standby is tried at the same pause as the active that just failed.
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), new Random(7), attemptsPerStep: 2);
        var delays = Enumerable.Range(0, 6).Select(_ => backoff.Next().TotalMilliseconds).ToArray();

        Assert.All(delays[0..2], d => Assert.InRange(d, 50, 100));
        Assert.All(delays[2..4], d => Assert.InRange(d, 100, 200));
        Assert.All(delays[4..6], d => Assert.InRange(d, 200, 400));
    }
}
