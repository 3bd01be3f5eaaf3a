using Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.UnitTests.Configuration;

public sealed class GatewayConfigurationTests
{
    private static GatewayOptions Load(params (string Key, string Value)[] settings) =>
        GatewayConfiguration.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    private static string Refusal(params (string Key, string Value)[] settings) =>
        Assert.Throws<GatewayConfigurationException>(() => Load(settings)).Message;

    [Fact]
    public void With_no_settings_at_all_the_embedded_defaults_apply()
    {
        var options = Load();
        Assert.Equal(1883, options.Mqtt.Port);
        Assert.Equal(8080, options.Http.Port);
        Assert.Equal("./data", options.DataPath);
        Assert.Empty(options.Upstreams);
        Assert.False(string.IsNullOrEmpty(options.Id));
    }

    [Fact]
    public void Upstreams_and_routes_bind_from_the_environment_variable_form()
    {
        // Gateway__Upstreams__cloud__Endpoints__0 arrives as Gateway:Upstreams:cloud:Endpoints:0.
        var options = Load(
            ("Gateway:Id", "gw-7"),
            ("Gateway:Upstreams:cloud:Endpoints:0", "amqps://broker-1:5671/"),
            ("Gateway:Upstreams:cloud:Endpoints:1", "amqps://broker-2:5671/"),
            ("Gateway:Upstreams:cloud:UserName", "edge"),
            ("Gateway:Upstreams:cloud:ConfirmTimeout", "00:00:05"),
            ("Gateway:Routes:0:Filter", "sensors/#"),
            ("Gateway:Routes:0:Upstream", "cloud"),
            ("Gateway:Routes:0:Exchange", "telemetry"),
            ("Gateway:Routes:0:ExchangeType", "Fanout"),
            ("Gateway:Routes:0:DeclareExchange", "true"));

        var cloud = options.Upstreams["cloud"];
        Assert.Equal(["amqps://broker-1:5671/", "amqps://broker-2:5671/"], cloud.Endpoints);
        Assert.Equal(TimeSpan.FromSeconds(5), cloud.Forwarding.ConfirmTimeout);
        var route = Assert.Single(options.Routes);
        Assert.Equal(Core.Routing.ExchangeType.Fanout, route.ExchangeType);
        Assert.True(route.DeclareExchange);

        var table = GatewayConfiguration.BuildRouteTable(options);
        Assert.Equal(["cloud"], table.UpstreamsFor("sensors/a"));
    }

    [Theory]
    [InlineData("Gateway:Mqtt:Port", "0", "Gateway:Mqtt:Port must be 1-65535 (was 0)")]
    [InlineData("Gateway:Mqtt:Port", "abc", "'Gateway:Mqtt:Port'")]
    [InlineData("Gateway:Mqtt:BindAddress", "localhost-ish", "Gateway:Mqtt:BindAddress must be an IP address")]
    [InlineData("Gateway:Outbox:MaxGroupMessages", "0", "Gateway:Outbox:MaxGroupMessages must be")]
    [InlineData("Gateway:Outbox:UnacknowledgedLinger", "-00:00:01", "Gateway:Outbox:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was -00:00:01)")]
    [InlineData("Gateway:Outbox:UnacknowledgedLinger", "00:01:00", "Gateway:Outbox:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was 00:01:00)")]
    [InlineData("Gateway:Id", "has space", "Gateway:Id must be")]
    [InlineData("Gateway:Http:AllowedOrigins:0", "dash.example", "Gateway:Http:AllowedOrigins:0 must be * or an origin")]
    [InlineData("Gateway:Http:AllowedOrigins:0", "https://dash.example/app", "Gateway:Http:AllowedOrigins:0 must be * or an origin")]
    [InlineData("Gateway:Stomp:Port", "1883", "Gateway:Stomp:Port must differ")]
    [InlineData("Gateway:Stomp:MaxPendingMessages", "0", "Gateway:Stomp:MaxPendingMessages must be positive")]
    [InlineData("Gateway:Mqt:Port", "1884", "unknown setting Gateway:Mqt")]
    public void A_bad_value_is_refused_with_one_line_naming_its_key(string key, string value, string expected)
    {
        var message = Refusal((key, value));
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void A_route_to_an_upstream_that_is_not_configured_is_refused()
    {
        var message = Refusal(("Gateway:Routes:0:Filter", "a/#"), ("Gateway:Routes:0:Upstream", "nowhere"));
        Assert.Contains("Gateway:Routes:0:Upstream must name a configured upstream", message);
    }

    [Fact]
    public void A_malformed_filter_is_refused()
    {
        var message = Refusal(
            ("Gateway:Upstreams:u:Endpoints:0", "amqp://localhost/"),
            ("Gateway:Routes:0:Filter", "a/#/b"),
            ("Gateway:Routes:0:Upstream", "u"));
        Assert.Contains("Gateway:Routes:0:Filter", message);
    }

    [Fact]
    public void An_endpoint_that_is_not_amqp_is_refused_without_echoing_its_password()
    {
        var message = Refusal(("Gateway:Upstreams:u:Endpoints:0", "http://user:secret@host/"));
        Assert.Contains("Gateway:Upstreams:u:Endpoints:0 must be a URI with a host starting amqp:// or amqps://", message);
        Assert.DoesNotContain("secret", message);
    }

    [Fact]
    public void An_upstream_without_endpoints_is_refused()
    {
        var message = Refusal(("Gateway:Upstreams:u:UserName", "x"));
        Assert.Contains("Gateway:Upstreams:u:Endpoints must list at least one endpoint", message);
    }

    [Fact]
    public void An_ActiveMQ_upstream_takes_stomp_endpoints_and_routes_take_destinations()
    {
        var options = Load(
            ("Gateway:Upstreams:mq:Kind", "ActiveMq"),
            ("Gateway:Upstreams:mq:Endpoints:0", "stomp+ssl://b-1.mq.example:61614"),
            ("Gateway:Upstreams:mq:Endpoints:1", "stomp+ssl://b-2.mq.example:61614"),
            ("Gateway:Routes:0:Filter", "alerts/#"),
            ("Gateway:Routes:0:Upstream", "mq"),
            ("Gateway:Routes:0:Destination", "/queue/alerts"));
        Assert.Equal("/queue/alerts", GatewayConfiguration.BuildRouteTable(options).Match("alerts/x", "mq")[0].Target.Destination);

        Assert.Contains("Gateway:Upstreams:mq:Endpoints:0 must be a URI with a host starting stomp:// or stomp+ssl://",
            Refusal(("Gateway:Upstreams:mq:Kind", "ActiveMq"), ("Gateway:Upstreams:mq:Endpoints:0", "amqp://host:5672/")));
        Assert.Contains("Gateway:Routes:0:Destination must be /queue/<name> or /topic/<name>",
            Refusal(("Gateway:Upstreams:mq:Kind", "ActiveMq"), ("Gateway:Upstreams:mq:Endpoints:0", "stomp://h:61613"),
                ("Gateway:Routes:0:Filter", "a/#"), ("Gateway:Routes:0:Upstream", "mq"), ("Gateway:Routes:0:Destination", "alerts")));
    }
}
