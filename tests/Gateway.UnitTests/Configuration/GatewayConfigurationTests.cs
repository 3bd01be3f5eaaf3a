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
    [InlineData("Gateway:Mqtt:Port", "65536", "Gateway:Mqtt:Port must be 1-65535, or 0 for none (was 65536)")]
    [InlineData("Gateway:Mqtt:TlsPort", "8883", "Gateway:Mqtt:TlsPort needs a certificate: set Gateway:Tls:CertificateFile and Gateway:Tls:KeyFile")]
    [InlineData("Gateway:Http:TlsPort", "-1", "Gateway:Http:TlsPort must be 1-65535, or 0 for none (was -1)")]
    [InlineData("Gateway:Tls:CertificateFile", "cert.pem", "Gateway:Tls:CertificateFile and Gateway:Tls:KeyFile must be set together")]
    [InlineData("Gateway:Tls:HandshakeTimeout", "00:00:00.500", "Gateway:Tls:HandshakeTimeout must be 00:00:01 to 00:05:00 (was 00:00:00.5000000)")]
    [InlineData("Gateway:Mqtt:Port", "abc", "'Gateway:Mqtt:Port'")]
    [InlineData("Gateway:Mqtt:BindAddress", "localhost-ish", "Gateway:Mqtt:BindAddress must be an IP address")]
    [InlineData("Gateway:Outbox:MaxGroupMessages", "0", "Gateway:Outbox:MaxGroupMessages must be")]
    [InlineData("Gateway:Outbox:UnacknowledgedLinger", "-00:00:01", "Gateway:Outbox:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was -00:00:01)")]
    [InlineData("Gateway:Outbox:UnacknowledgedLinger", "00:01:00", "Gateway:Outbox:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was 00:01:00)")]
    [InlineData("Gateway:Id", "has space", "Gateway:Id must be")]
    [InlineData("Gateway:Http:AllowedOrigins:0", "dash.example", "Gateway:Http:AllowedOrigins:0 must be * or an origin")]
    [InlineData("Gateway:Http:AllowedOrigins:0", "https://dash.example/app", "Gateway:Http:AllowedOrigins:0 must be * or an origin")]
    [InlineData("Gateway:Stomp:Port", "1883", "Gateway:Mqtt:Port and Gateway:Stomp:Port must differ (all 1883)")]
    [InlineData("Gateway:Stomp:MaxPendingMessages", "0", "Gateway:Stomp:MaxPendingMessages must be positive")]
    [InlineData("Gateway:Mqt:Port", "1884", "unknown setting Gateway:Mqt")]
    public void A_bad_value_is_refused_with_one_line_naming_its_key(string key, string value, string expected)
    {
        var message = Refusal((key, value));
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Tls_ports_are_on_at_their_usual_numbers_only_when_a_certificate_is_configured()
    {
        var plain = Load();
        Assert.Equal((0, 0, 0), (plain.Mqtt.TlsPort, plain.Http.TlsPort, plain.Stomp.TlsPort));

        var tls = Load(("Gateway:Tls:CertificateFile", "cert.pem"), ("Gateway:Tls:KeyFile", "key.pem"), ("Gateway:Stomp:TlsPort", "0"));
        Assert.Equal((8883, 8443, 0), (tls.Mqtt.TlsPort, tls.Http.TlsPort, tls.Stomp.TlsPort));
        Assert.Equal((1883, 8080, 61613), (tls.Mqtt.Port, tls.Http.Port, tls.Stomp.Port));
    }

    [Fact]
    public void Each_plain_listener_can_be_off_but_not_every_listener()
    {
        var tlsOnly = Load(("Gateway:Tls:CertificateFile", "cert.pem"), ("Gateway:Tls:KeyFile", "key.pem"),
            ("Gateway:Mqtt:Port", "0"), ("Gateway:Http:Port", "0"), ("Gateway:Stomp:Port", "0"));
        Assert.Equal((0, 0, 0), (tlsOnly.Mqtt.Port, tlsOnly.Http.Port, tlsOnly.Stomp.Port));

        var message = Refusal(("Gateway:Mqtt:Port", "0"), ("Gateway:Http:Port", "0"), ("Gateway:Stomp:Port", "0"));
        Assert.Equal("no listener is on: Gateway:Mqtt:Port, Gateway:Mqtt:TlsPort, Gateway:Http:Port, Gateway:Http:TlsPort, Gateway:Stomp:Port, Gateway:Stomp:TlsPort are all 0", message);
    }

    [Fact]
    public void A_tls_port_that_clashes_with_a_plain_one_is_refused_naming_both()
    {
        var message = Refusal(("Gateway:Tls:CertificateFile", "cert.pem"), ("Gateway:Tls:KeyFile", "key.pem"), ("Gateway:Stomp:TlsPort", "8080"));
        Assert.Equal("Gateway:Http:Port and Gateway:Stomp:TlsPort must differ (all 8080)", message);
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

    [Fact]
    public void Each_part_is_bound_from_its_own_section()
    {
        var options = Load(
            ("Gateway:Outbox:MaxGroupMessages", "250"),
            ("Gateway:Outbox:WhenFull", "DropOldest"),
            ("Gateway:Stomp:Port", "61000"),
            ("Gateway:Stomp:Heartbeat", "00:00:04"),
            ("Gateway:Stomp:MaxSubscriptionsPerConnection", "7"),
            ("Gateway:Upstreams:cloud:Endpoints:0", "amqp://broker/"),
            ("Gateway:Upstreams:cloud:Heartbeat", "00:00:20"),
            ("Gateway:Upstreams:cloud:BatchMaxMessages", "50"));

        Assert.Equal(250, options.Outbox.MaxGroupMessages);
        Assert.Equal(Core.Outbox.WhenFull.DropOldest, options.Outbox.WhenFull);
        Assert.Equal(61000, options.Stomp.Port);
        Assert.Equal(TimeSpan.FromSeconds(4), options.StompSessions.HeartbeatSend);
        Assert.Equal(TimeSpan.FromSeconds(4), options.StompSessions.HeartbeatReceive);
        Assert.Equal(7, options.StompSessions.MaxSubscriptionsPerConnection);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Upstreams["cloud"].Heartbeat);
        Assert.Equal(50, options.Upstreams["cloud"].Forwarding.BatchMaxMessages);
        Assert.Equal(Core.Forwarding.ForwarderOptions.Default.ConfirmTimeout, options.Upstreams["cloud"].Forwarding.ConfirmTimeout);
    }

    [Fact]
    public void The_outbox_folder_and_the_STOMP_body_limit_come_from_the_sections_that_set_them()
    {
        var options = Load(("Gateway:DataPath", "/var/lib/gw"), ("Gateway:Outbox:MaxMessageBytes", "2048"));
        Assert.Equal("/var/lib/gw", options.Outbox.DataPath);
        Assert.Equal(2048, options.StompSessions.Limits.MaxBodyBytes);

        Assert.Equal("./data", Load().Outbox.DataPath);
    }

    [Theory]
    [InlineData("Gateway:Outbox:DataPath", "Gateway:Outbox:DataPath")]
    [InlineData("Gateway:Outbox:CompactBehind", "Gateway:Outbox:CompactBehind")]
    [InlineData("Gateway:Stomp:HeartbeatSend", "Gateway:Stomp:HeartbeatSend")]
    [InlineData("Gateway:Stomp:Limits:MaxFrameBytes", "Gateway:Stomp:Limits")]
    [InlineData("Gateway:StompSessions:Heartbeat", "Gateway:StompSessions")]
    [InlineData("Gateway:Upstreams:cloud:Forwarding:BatchMaxMessages", "Gateway:Upstreams:cloud:Forwarding")]
    [InlineData("Gateway:Upstreams:cloud:BatchMaxMesages", "Gateway:Upstreams:cloud:BatchMaxMesages")]
    [InlineData("Gateway:Routes:0:Filtre", "Gateway:Routes:0:Filtre")]
    public void A_key_no_record_reads_is_refused_by_its_path(string key, string refused)
    {
        Assert.Equal($"unknown setting {refused} (check the spelling; every key is in docs/configuration.md)", Refusal((key, "1")));
    }

    [Fact]
    public void Environment_variables_set_the_same_keys()
    {
        const string prefix = "GATEWAY_CONFIGURATION_TESTS_";
        Environment.SetEnvironmentVariable(prefix + "Gateway__Mqtt__Port", "1884");
        Environment.SetEnvironmentVariable(prefix + "Gateway__Outbox__MaxBytes", "1073741824");
        try
        {
            var options = GatewayConfiguration.Load(new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build());
            Assert.Equal(1884, options.Mqtt.Port);
            Assert.Equal(1L << 30, options.Outbox.MaxBytes);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "Gateway__Mqtt__Port", null);
            Environment.SetEnvironmentVariable(prefix + "Gateway__Outbox__MaxBytes", null);
        }
    }
}
