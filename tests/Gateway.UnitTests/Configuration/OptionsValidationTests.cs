using Gateway.Configuration;
using Gateway.Core.Forwarding;
using Gateway.Stomp.Server;
using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Configuration;

/// <summary>Each options record checks its own values: its defaults pass, and each bad value is one line naming its key.</summary>
public sealed class OptionsValidationTests
{
    private static void RefusedWith(IEnumerable<string> problems, string expected) => Assert.Equal([expected], problems.ToArray());

    [Fact]
    public void The_outbox_record_accepts_its_defaults_and_names_each_bad_value()
    {
        var defaults = new LiteDbOutboxOptions { DataPath = "unused" };
        Assert.Empty(defaults.Validate("S"));
        RefusedWith((defaults with { MaxGroupMessages = 100_001 }).Validate("S"), "S:MaxGroupMessages must be 1-100000 (was 100001)");
        RefusedWith((defaults with { MaxGroupBytes = 0 }).Validate("S"), "S:MaxGroupBytes must be positive (was 0)");
        RefusedWith((defaults with { UnacknowledgedLinger = TimeSpan.FromSeconds(11) }).Validate("S"), "S:UnacknowledgedLinger must be 00:00:00 to 00:00:10 (was 00:00:11)");
        RefusedWith((defaults with { PendingCapacity = -1 }).Validate("S"), "S:PendingCapacity must be positive (was -1)");
        RefusedWith((defaults with { ExpirySweepInterval = TimeSpan.FromMilliseconds(99) }).Validate("S"), "S:ExpirySweepInterval must be at least 00:00:00.100 (was 00:00:00.0990000)");
        RefusedWith((defaults with { MaxMessages = 0 }).Validate("S"), "S:MaxMessages must be positive (was 0)");
        RefusedWith((defaults with { MaxBytes = 1000, MaxMessageBytes = 1001 }).Validate("S"), "S:MaxBytes must be at least S:MaxMessageBytes (was 1000)");
        RefusedWith((defaults with { MinFreeDiskBytes = -1 }).Validate("S"), "S:MinFreeDiskBytes must not be negative (was -1)");
        RefusedWith((defaults with { MaxMessageBytes = (15 << 20) + 1 }).Validate("S"), "S:MaxMessageBytes must be 1 to 15728640, LiteDB's document limit less room for headers (was 15728641)");
    }

    [Fact]
    public void The_forwarder_record_accepts_its_defaults_and_names_each_bad_value()
    {
        Assert.Empty(ForwarderOptions.Default.Validate("U"));
        RefusedWith((ForwarderOptions.Default with { BatchMaxMessages = 0 }).Validate("U"), "U:BatchMaxMessages must be 1-10000 (was 0)");
        RefusedWith((ForwarderOptions.Default with { BatchMaxMessages = 10_001 }).Validate("U"), "U:BatchMaxMessages must be 1-10000 (was 10001)");
        RefusedWith((ForwarderOptions.Default with { BatchMaxBytes = 0 }).Validate("U"), "U:BatchMaxBytes must be positive (was 0)");
        RefusedWith((ForwarderOptions.Default with { ConfirmTimeout = TimeSpan.Zero }).Validate("U"), "U:ConfirmTimeout must be positive (was 00:00:00)");
        RefusedWith((ForwarderOptions.Default with { ReconnectMinDelay = TimeSpan.Zero, ReconnectMaxDelay = TimeSpan.FromSeconds(1) }).Validate("U"),
            "U:ReconnectMinDelay must be positive (was 00:00:00)");
        RefusedWith((ForwarderOptions.Default with { ReconnectMaxDelay = TimeSpan.FromMilliseconds(100) }).Validate("U"),
            "U:ReconnectMaxDelay must be at least ReconnectMinDelay (was 00:00:00.1000000)");
    }

    [Fact]
    public void The_STOMP_session_record_accepts_its_defaults_and_names_each_bad_value()
    {
        var defaults = new StompServerOptions();
        Assert.Empty(defaults.Validate("T"));
        RefusedWith((defaults with { MaxPendingMessages = 0 }).Validate("T"), "T:MaxPendingMessages must be positive (was 0)");
        RefusedWith((defaults with { MaxPendingBytes = 65535 }).Validate("T"), "T:MaxPendingBytes must be at least 65536 (was 65535)");
        RefusedWith((defaults with { Heartbeat = TimeSpan.FromHours(2) }).Validate("T"), "T:Heartbeat must be between 0 and 1 hour (was 02:00:00)");
        RefusedWith((defaults with { HeartbeatReceive = TimeSpan.FromSeconds(-1) }).Validate("T"), "T:Heartbeat must be between 0 and 1 hour (was -00:00:01)");
        RefusedWith((defaults with { ConnectTimeout = TimeSpan.Zero }).Validate("T"), "T:ConnectTimeout must be positive (was 00:00:00)");
        RefusedWith((defaults with { MaxSubscriptionsPerConnection = 0 }).Validate("T"), "T:MaxSubscriptionsPerConnection must be positive (was 0)");
    }

    [Fact]
    public void The_one_STOMP_heartbeat_value_sets_both_directions()
    {
        var options = new StompServerOptions { Heartbeat = TimeSpan.FromSeconds(3) };
        Assert.Equal(TimeSpan.FromSeconds(3), options.HeartbeatSend);
        Assert.Equal(TimeSpan.FromSeconds(3), options.HeartbeatReceive);
    }

    [Fact]
    public void The_listener_records_accept_their_defaults_and_name_each_bad_value()
    {
        Assert.Empty(new MqttListenerOptions().Validate("M"));
        RefusedWith(new MqttListenerOptions { Port = 65536 }.Validate("M"), "M:Port must be 1-65535, or 0 for none (was 65536)");
        Assert.Empty(new MqttListenerOptions { Port = 0, TlsPort = 0 }.Validate("M"));
        RefusedWith(new MqttListenerOptions { TlsPort = 70000 }.Validate("M"), "M:TlsPort must be 1-65535, or 0 for none (was 70000)");
        RefusedWith(new MqttListenerOptions { BindAddress = "any" }.Validate("M"), "M:BindAddress must be an IP address (was 'any')");
        RefusedWith(new MqttListenerOptions { MaxPendingMessagesPerClient = 0 }.Validate("M"), "M:MaxPendingMessagesPerClient must be positive (was 0)");

        Assert.Empty(new HttpListenerOptions { AllowedOrigins = ["*", "https://dash.example", "http://10.0.0.5:3000"] }.Validate("H"));
        Assert.Empty(new HttpListenerOptions { Port = 0 }.Validate("H"));
        RefusedWith(new HttpListenerOptions { Port = -1 }.Validate("H"), "H:Port must be 1-65535, or 0 for none (was -1)");
        RefusedWith(new HttpListenerOptions { AllowedOrigins = ["*", "https://dash.example/"] }.Validate("H"),
            "H:AllowedOrigins:1 must be * or an origin such as https://dash.example or http://10.0.0.5:3000 (was 'https://dash.example/')");

        Assert.Empty(new StompListenerOptions().Validate("T"));
        Assert.Empty(new StompListenerOptions { Port = 0, SocketSendBufferBytes = 0 }.Validate("T"));
        RefusedWith(new StompListenerOptions { Port = -1 }.Validate("T"), "T:Port must be 1-65535, or 0 for none (was -1)");
        RefusedWith(new StompListenerOptions { BindAddress = "" }.Validate("T"), "T:BindAddress must be an IP address (was '')");
        RefusedWith(new StompListenerOptions { SocketSendBufferBytes = 4095 }.Validate("T"), "T:SocketSendBufferBytes must be 0 (the OS decides) or at least 4096 (was 4095)");
    }

    [Fact]
    public void The_top_level_record_accepts_its_defaults_and_names_each_bad_value()
    {
        Assert.Empty(new GatewayOptions().Validate());
        Assert.Empty(new GatewayOptions { Id = "plant1-gw_3.a" }.Validate());
        RefusedWith(new GatewayOptions { Id = new string('a', 65) }.Validate(), $"Gateway:Id must be 1-64 letters, digits, '-', '_' or '.' (was '{new string('a', 65)}')");
        RefusedWith(new GatewayOptions { DataPath = " " }.Validate(), "Gateway:DataPath must name a folder");
    }

    [Fact]
    public void The_upstream_record_checks_its_connection_and_its_forwarding()
    {
        var upstream = new UpstreamSettings { Endpoints = ["amqps://user:pw@broker:5671/"] };
        Assert.Empty(upstream.Validate("U"));
        RefusedWith((upstream with { Heartbeat = TimeSpan.FromMilliseconds(500) }).Validate("U"), "U:Heartbeat must be 0 (off) or at least 1 second (was 00:00:00.5000000)");
        RefusedWith((upstream with { CaFile = "/nonexistent/ca.pem" }).Validate("U"), "U:CaFile names a file that does not exist ('/nonexistent/ca.pem')");
        RefusedWith((upstream with { Forwarding = ForwarderOptions.Default with { BatchMaxBytes = -1 } }).Validate("U"), "U:BatchMaxBytes must be positive (was -1)");
        RefusedWith((upstream with { Kind = UpstreamKind.ActiveMq }).Validate("U"),
            "U:Endpoints:0 must be a URI with a host starting stomp:// or stomp+ssl:// (Kind is ActiveMq; was 'amqps://user:***@broker:5671/')");
    }

    [Fact]
    public void The_route_record_needs_a_filter_and_a_configured_upstream()
    {
        var route = new RouteSettings { Filter = "sensors/#", Upstream = "cloud" };
        Assert.Empty(route.Validate("R", ["cloud"]));
        RefusedWith(route.Validate("R", ["edge", "cloud2"]), "R:Upstream must name a configured upstream (edge, cloud2; was 'cloud')");
        RefusedWith((route with { Ttl = TimeSpan.Zero }).Validate("R", ["cloud"]), "R:Ttl must be positive when set (was 00:00:00)");
        RefusedWith((route with { RoutingKey = new string('k', 256) }).Validate("R", ["cloud"]), "R:RoutingKey must be at most 255 bytes (AMQP short string)");
    }
}
