using Gateway.Core.Routing;

namespace Gateway.UnitTests.Routing;

public sealed class RouteTableTests
{
    private static readonly RouteTable Table = new(
        [
            new Route("sensors/#", "cloud", new RouteTarget("amq.topic")),
            new Route("sensors/+/temp", "onprem", new RouteTarget("temps", ExchangeType.Direct)),
            new Route("alerts/#", "onprem", new RouteTarget("alerts")),
            new Route("sensors/line1/#", "cloud", new RouteTarget("line1", ExchangeType.Fanout)),
        ],
        ["cloud", "onprem", "idle"]);

    [Fact]
    public void A_topic_matching_routes_to_two_upstreams_must_be_confirmed_by_both()
    {
        Assert.Equal(["cloud", "onprem"], Table.UpstreamsFor("sensors/line1/temp").Order());
        Assert.Equal(["cloud"], Table.UpstreamsFor("sensors/line1/humidity"));
        Assert.Empty(Table.UpstreamsFor("other/topic"));
    }

    [Fact]
    public void Routes_to_one_upstream_come_back_in_configuration_order()
    {
        var routes = Table.Match("sensors/line1/temp", "cloud");
        Assert.Equal(["amq.topic", "line1"], routes.Select(r => r.Target.Exchange));
        Assert.Empty(Table.Match("sensors/line1/temp", "idle"));
    }

    [Fact]
    public void A_route_to_an_unknown_upstream_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RouteTable([new Route("a/#", "nowhere", new RouteTarget())], ["cloud"]));
        Assert.Contains("nowhere", ex.Message);
    }

    [Fact]
    public void Answers_stay_right_after_the_topic_cache_is_dropped()
    {
        for (var i = 0; i < 25_000; i++) Assert.Single(Table.UpstreamsFor($"sensors/dev{i}/humidity"));
        Assert.Equal(2, Table.UpstreamsFor("sensors/dev1/temp").Count);
    }

    [Fact]
    public void A_message_expires_with_its_longest_lived_route_and_never_after_its_own_expiry()
    {
        var received = DateTimeOffset.UnixEpoch.AddDays(1);
        var table = new RouteTable(
            [
                new Route("a/#", "u", new RouteTarget(), TimeSpan.FromMinutes(5)),
                new Route("a/b/#", "u", new RouteTarget(), TimeSpan.FromMinutes(30)),
                new Route("c/#", "u", new RouteTarget()),
                new Route("c/#", "u", new RouteTarget(), TimeSpan.FromMinutes(1)),
            ],
            ["u"]);

        Assert.Equal(received.AddMinutes(5), table.ExpiryFor("a/x", received, null));
        Assert.Equal(received.AddMinutes(30), table.ExpiryFor("a/b/x", received, null));
        Assert.Equal(received.AddMinutes(2), table.ExpiryFor("a/b/x", received, received.AddMinutes(2))); // MQTT 5 expiry is sooner
        Assert.Null(table.ExpiryFor("c/x", received, null)); // one route keeps it until delivered
        Assert.Equal(received.AddMinutes(9), table.ExpiryFor("z/x", received, received.AddMinutes(9)));
        Assert.True(table.Match("c/x")[1].IsExpired(received, received.AddMinutes(1)));
        Assert.False(table.Match("c/x")[0].IsExpired(received, received.AddYears(1)));
    }
}
