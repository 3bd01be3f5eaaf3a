using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// The ACL on MQTT through the real gateway process, with the MQTTnet client on MQTT 5 and 3.1.1. The
/// clients name their user and no password: checking it is the users' part (issue 23, item 2).
/// </summary>
public sealed class MqttAclTests : IAsyncLifetime
{
    private GatewayProcess _gateway = null!;
    private string _aclPath = null!;

    public async Task InitializeAsync() => (_gateway, _aclPath) = await AclGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private Task<MqttTestClient> ConnectAsync(string clientId, string? user, MqttProtocolVersion version = MqttProtocolVersion.V500, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttTestClient.ConnectAsync(_gateway.MqttPort, clientId, version, o =>
        {
            if (user is not null) o.WithCredentials(user, AclGateway.Password);
            configure?.Invoke(o);
        });

    private Task<double> StoredAsync() => _gateway.MetricAsync("outbox_messages");

    /// <summary>MQTT 5 PUBACK 0x87 Not authorized with a reason string (MQTT-3.4.2-1 allows it); the refused message is neither stored nor delivered.</summary>
    [Fact]
    public async Task Mqtt5_publish_outside_the_users_pattern_gets_PUBACK_0x87_and_is_not_stored_or_delivered()
    {
        await using var watcher = await ConnectAsync("watcher-1", "watcher");
        await watcher.SubscribeAsync("devices/#");
        await using var alice = await ConnectAsync("alice-1", "alice");
        var storedBefore = await StoredAsync();

        var refused = await alice.PublishAsync("devices/bob/valve", "not alice's");
        var allowed = await alice.PublishAsync("devices/alice/temp", "21.5");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        Assert.Equal("not authorized to publish to 'devices/bob/valve'", refused.ReasonString);
        Assert.Equal(MqttClientPublishReasonCode.Success, allowed.ReasonCode);
        Assert.True(alice.IsConnected);
        Assert.Equal(storedBefore + 1, await StoredAsync()); // only the allowed one
        // The watcher gets the allowed one, sent after the refused one on the same connection: the refused never came.
        await Poll.UntilAsync(() => watcher.Received.Any(m => m.Topic == "devices/alice/temp"), Patience.Reaction, "the allowed publish at the watcher");
        Assert.DoesNotContain(watcher.Received, m => m.Topic == "devices/bob/valve");
        Assert.Equal(1, await _gateway.MetricAsync("acl_denied_total", "mqtt_publish"));
        Assert.Contains("ACL refused mqtt_publish by user alice, client alice-1, topic 'devices/bob/valve'", _gateway.Output);
    }

    /// <summary>MQTT 3.1.1 has no negative PUBACK: the connection is closed without one, as for the gateway's other refusals.</summary>
    [Fact]
    public async Task Mqtt311_publish_refused_closes_the_connection_without_a_PUBACK_and_stores_nothing()
    {
        await using var alice = await ConnectAsync("alice-311", "alice", MqttProtocolVersion.V311);
        var storedBefore = await StoredAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => alice.PublishAsync("devices/bob/valve", "not alice's"));

        await Poll.UntilAsync(() => !alice.IsConnected, Patience.Reaction, "the connection to close");
        Assert.Equal(storedBefore, await StoredAsync());
        Assert.Equal(1, await _gateway.MetricAsync("acl_denied_total", "mqtt_publish"));
    }

    /// <summary>QoS 0 has no ack to carry a reason code: on MQTT 5 the message is dropped and counted, the connection stays.</summary>
    [Fact]
    public async Task Mqtt5_qos0_publish_refused_is_dropped_and_counted()
    {
        await using var alice = await ConnectAsync("alice-q0", "alice");
        var storedBefore = await StoredAsync();

        await alice.PublishAsync("devices/bob/valve", "dropped", MqttQualityOfServiceLevel.AtMostOnce);
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("acl_denied_total", "mqtt_publish") == 1, Patience.Reaction, "the refusal counted");

        Assert.True(alice.IsConnected);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await alice.PublishAsync("devices/alice/x", "after")).ReasonCode);
        Assert.Equal(storedBefore + 1, await StoredAsync());
    }

    /// <summary>
    /// SUBACK answers each filter [MQTT-3.9.3-1]: the refused ones 0x87 (MQTT 5) or 0x80 (3.1.1), the others granted.
    /// A read grant on sensors/# covers sensors/a/+; a deny covering sensors/secret/+ refuses it; %c grants the client's own subtree.
    /// </summary>
    [Theory]
    [InlineData(MqttProtocolVersion.V500, MqttClientSubscribeResultCode.NotAuthorized)]
    [InlineData(MqttProtocolVersion.V311, MqttClientSubscribeResultCode.UnspecifiedError)]
    public async Task Subscribe_refuses_only_the_filters_the_user_may_not_read(MqttProtocolVersion version, MqttClientSubscribeResultCode refusedCode)
    {
        await using var alice = await ConnectAsync("pump-3", "alice", version);

        var result = await alice.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("sensors/a/+", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("devices/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("sensors/secret/+", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("clients/pump-3/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("clients/pump-4/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

        var codes = result.Items.ToDictionary(i => i.TopicFilter.Topic, i => i.ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, codes["sensors/a/+"]);
        Assert.Equal(refusedCode, codes["devices/#"]); // write only
        Assert.Equal(refusedCode, codes["sensors/secret/+"]);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, codes["clients/pump-3/#"]);
        Assert.Equal(refusedCode, codes["clients/pump-4/#"]);
        Assert.Equal(refusedCode, codes["#"]);
        Assert.True(alice.IsConnected);
        Assert.Equal(4, await _gateway.MetricAsync("acl_denied_total", "mqtt_subscribe"));
    }

    /// <summary>A granted filter with a deny inside it: messages on the denied topics, live or retained, never reach the subscriber.</summary>
    [Fact]
    public async Task Messages_on_denied_topics_inside_a_granted_filter_are_not_delivered_live_or_retained()
    {
        await using var watcher = await ConnectAsync("watcher-2", "watcher");
        await watcher.PublishAsync("sensors/secret/key", "retained secret", retain: true);
        await watcher.PublishAsync("sensors/line1/temp", "retained reading", retain: true);
        await using var alice = await ConnectAsync("alice-2", "alice");

        await alice.SubscribeAsync("sensors/#");
        await Poll.UntilAsync(() => alice.Received.Any(m => m.Topic == "sensors/line1/temp"), Patience.Reaction, "the readable retained message");
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("acl_denied_total", "mqtt_delivery") >= 1, Patience.Reaction, "the retained secret held back");
        await watcher.SubscribeAsync("sensors/secret/#");
        await watcher.PublishAsync("sensors/secret/key", "live secret");
        await watcher.PublishAsync("sensors/line2/temp", "live reading");
        await Poll.UntilAsync(() => alice.Received.Any(m => m.Topic == "sensors/line2/temp"), Patience.Reaction, "the readable live message");

        Assert.DoesNotContain(alice.Received, m => m.Topic.StartsWith("sensors/secret/", StringComparison.Ordinal));
        Assert.Equal(2, await _gateway.MetricAsync("acl_denied_total", "mqtt_delivery"));
        // The watcher may read it: the message itself went out, to those allowed.
        await Poll.UntilAsync(() => watcher.Received.Any(m => m.Topic == "sensors/secret/key" && Encoding.UTF8.GetString(m.Payload) == "live secret"), Patience.Reaction, "the secret at the watcher");
    }

    /// <summary>A will is checked when it would go out, against the rules then in force: one to a topic the user may not write is not published.</summary>
    [Fact]
    public async Task A_will_to_a_topic_the_user_may_not_write_is_not_published()
    {
        await using var watcher = await ConnectAsync("watcher-3", "watcher");
        await watcher.SubscribeAsync("devices/#");
        var storedBefore = await StoredAsync();
        var refused = await ConnectAsync("alice-will-1", "alice", configure: o => o.WithWillTopic("devices/bob/status").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        var allowed = await ConnectAsync("alice-will-2", "alice", configure: o => o.WithWillTopic("devices/alice/status").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));

        refused.Client.Dispose(); // the socket closes with no DISCONNECT: the will is due
        await Poll.UntilAsync(async () => await _gateway.MetricAsync("acl_denied_total", "mqtt_publish") == 1, Patience.Reaction, "the will refused");
        allowed.Client.Dispose();
        await Poll.UntilAsync(() => watcher.Received.Any(m => m.Topic == "devices/alice/status"), Patience.Reaction, "the allowed will");

        Assert.DoesNotContain(watcher.Received, m => m.Topic == "devices/bob/status");
        Assert.Equal(storedBefore + 1, await StoredAsync()); // a QoS 1 will is stored before it is delivered
    }

    /// <summary>The file changed while the gateway runs: the new rules apply at once, to a connection already open, without a restart.</summary>
    [Fact]
    public async Task A_changed_acl_file_applies_without_a_restart()
    {
        await using var alice = await ConnectAsync("alice-reload", "alice");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await alice.PublishAsync("plant/line1/cmd", "before")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await alice.PublishAsync("devices/alice/x", "before")).ReasonCode);

        await AclGateway.RewriteAsync(_gateway, _aclPath, "user alice\ntopic write plant/#\n");

        Assert.Equal(MqttClientPublishReasonCode.Success, (await alice.PublishAsync("plant/line1/cmd", "after")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await alice.PublishAsync("devices/alice/x", "after")).ReasonCode); // the pattern is gone
        var subscribed = await alice.Client.SubscribeAsync("sensors/#");
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, subscribed.Items.Single().ResultCode);
    }

    /// <summary>A shared subscription is checked on its inner filter; its deliveries (which bypass MQTTnet's enqueue) are checked too.</summary>
    [Fact]
    public async Task A_shared_subscription_is_checked_on_its_inner_filter_and_per_message()
    {
        await using var alice = await ConnectAsync("alice-shared", "alice");
        var result = await alice.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("$share/g/sensors/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("$share/g/devices/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.NotAuthorized], result.Items.Select(i => i.ResultCode));

        await using var watcher = await ConnectAsync("watcher-shared", "watcher");
        await watcher.PublishAsync("sensors/secret/key", "secret");
        await watcher.PublishAsync("sensors/line1/temp", "reading");
        await Poll.UntilAsync(() => alice.Received.Any(m => m.Topic == "sensors/line1/temp"), Patience.Reaction, "the readable message through the group");

        Assert.DoesNotContain(alice.Received, m => m.Topic == "sensors/secret/key");
        Assert.Equal(1, await _gateway.MetricAsync("acl_denied_total", "mqtt_delivery"));
    }

    /// <summary>Anonymous clients have the rules before the first user line, and the %c patterns.</summary>
    [Fact]
    public async Task An_anonymous_client_has_the_rules_before_any_user_line()
    {
        await using var anonymous = await ConnectAsync("anon-1", user: null);

        var result = await anonymous.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("public/#").WithTopicFilter("sensors/#").Build());

        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS0, MqttClientSubscribeResultCode.NotAuthorized], result.Items.Select(i => i.ResultCode));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await anonymous.PublishAsync("public/x", "no")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await anonymous.PublishAsync("clients/anon-1/out", "yes")).ReasonCode);
    }
}
