using System.Diagnostics;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// MQTT 5's Will Delay Interval (section 3.1.3.2.2), through the real gateway process: the will waits for
/// the delay or the end of the session, whichever first, is dropped when the client comes back to its
/// session in time (MQTT-3.1.3-9), and is stored in the outbox like any publish once it goes out.
/// </summary>
public sealed class MqttWillDelayTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;
    private MqttTestClient _watcher = null!;

    public async Task InitializeAsync()
    {
        _gateway = new GatewayProcess();
        await _gateway.StartAsync();
        _watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "watcher");
        await _watcher.SubscribeAsync("wills/#");
    }

    public async Task DisposeAsync()
    {
        await _watcher.DisposeAsync();
        _gateway.AssertNoUnexpectedErrors();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task A_will_waits_for_its_will_delay_then_is_stored_and_delivered()
    {
        var device = await ConnectAsync("slow-will", willDelay: 2, sessionExpiry: 60);
        var dropped = Stopwatch.StartNew();
        device.Client.Dispose(); // the socket closes with no DISCONNECT: the will is due, after its delay

        await Poll.UntilAsync(() => WillArrived("slow-will"), Patience.Reaction, "the will");
        Assert.True(dropped.Elapsed >= TimeSpan.FromSeconds(2), $"the will went out after {dropped.Elapsed}, before its 2 s delay");
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        Assert.Equal(1, await _gateway.MetricAsync("mqtt_wills_delayed_total"));
    }

    [Fact]
    public async Task A_will_is_not_sent_when_the_client_reconnects_to_its_session_within_the_delay()
    {
        // MQTT-3.1.3-9: a new connection to the session before the Will Delay Interval passed: no will.
        var device = await ConnectAsync("comes-back", willDelay: 600, sessionExpiry: 600);
        device.Client.Dispose();
        await Poll.UntilAsync(() => _gateway.Output.Contains("Will of MQTT client comes-back held"), Patience.Reaction, "the will to be held");

        await using var back = await ConnectAsync("comes-back", willDelay: 600, sessionExpiry: 600, cleanStart: false);
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("mqtt_wills_cancelled_total") == 1, Patience.Reaction, "the will to be cancelled");

        Assert.Contains("Will of MQTT client comes-back cancelled", _gateway.Output);
        Assert.Equal(0, await _gateway.MetricAsync("outbox_messages"));
        Assert.False(WillArrived("comes-back"));
        await back.Client.DisconnectAsync(); // a normal DISCONNECT: this connection's will is dropped too (MQTT-3.1.2-10)
    }

    [Fact]
    public async Task A_will_goes_out_at_once_when_the_session_ends_with_the_connection()
    {
        // Section 3.1.3.2.2: the delay or the end of the session, whichever first; a Session Expiry Interval
        // of 0 ends the session with the connection. The patience is far below the 600 s delay.
        var device = await ConnectAsync("short-session", willDelay: 600, sessionExpiry: 0);
        device.Client.Dispose();

        await Poll.UntilAsync(() => WillArrived("short-session"), Patience.Reaction, "the will");
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        Assert.DoesNotContain("Will of MQTT client short-session held", _gateway.Output);
    }

    [Fact]
    public async Task A_clean_start_reconnect_ends_the_old_session_so_its_held_will_goes_out()
    {
        // MQTT-3.1.2-4: Clean Start discards the session, which ends the will's wait (section 3.1.2.5).
        var device = await ConnectAsync("starts-afresh", willDelay: 600, sessionExpiry: 600);
        device.Client.Dispose();
        await Poll.UntilAsync(() => _gateway.Output.Contains("Will of MQTT client starts-afresh held"), Patience.Reaction, "the will to be held");

        await using var again = await ConnectAsync("starts-afresh", willDelay: 0, sessionExpiry: 0, cleanStart: true);
        await Poll.UntilAsync(() => WillArrived("starts-afresh"), Patience.Reaction, "the will");
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        await again.Client.DisconnectAsync();
    }

    [Fact]
    public async Task A_will_held_at_shutdown_is_stored_and_logged_not_lost()
    {
        // A held will is not kept across a restart, so the gateway publishes it as it stops, into the outbox.
        var device = await ConnectAsync("at-shutdown", willDelay: 600, sessionExpiry: 600);
        device.Client.Dispose();
        await Poll.UntilAsync(() => _gateway.Output.Contains("Will of MQTT client at-shutdown held"), Patience.Reaction, "the will to be held");
        Assert.Equal(0, await _gateway.MetricAsync("outbox_messages"));
        await _watcher.Client.DisconnectAsync();

        await _gateway.StopAsync();
        Assert.Equal(0, _gateway.ExitCode);
        Assert.Contains("Will of MQTT client at-shutdown published at shutdown", _gateway.Output);
        await _gateway.StartAsync();
        Assert.Equal(1, await _gateway.MetricAsync("outbox_messages"));
        _watcher = await MqttTestClient.ConnectAsync(_gateway.MqttPort, "watcher");
    }

    private bool WillArrived(string clientId) =>
        _watcher.Received.Any(m => m.Topic == $"wills/{clientId}" && Encoding.UTF8.GetString(m.Payload) == "gone");

    private Task<MqttTestClient> ConnectAsync(string clientId, uint willDelay, uint sessionExpiry, bool cleanStart = true) =>
        MqttTestClient.ConnectAsync(_gateway.MqttPort, clientId, MqttProtocolVersion.V500, o => o
            .WithCleanStart(cleanStart)
            .WithSessionExpiryInterval(sessionExpiry)
            .WithWillTopic($"wills/{clientId}").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillDelayInterval(willDelay));
}
