using Gateway.Mqtt;
using MQTTnet;
using MQTTnet.Protocol;

namespace Gateway.UnitTests.Mqtt;

/// <summary>Share names (MQTT 5.0 section 4.8.2) and the group registry: round robin, connected members first, unacknowledged deliveries.</summary>
public sealed class SharedSubscriptionTests
{
    private static readonly SharedSubscriptionFilter Group = new("g", "sensors/+/temp");

    private static SharedMember Member(string id) => new(id, MqttQualityOfServiceLevel.AtLeastOnce, false, 0);

    [Theory]
    [InlineData("$share/g/t", "g", "t")]
    [InlineData("$share/group-1/sensors/+/temp", "group-1", "sensors/+/temp")]
    [InlineData("$share/g/#", "g", "#")]
    [InlineData("$share/g/$SYS/#", "g", "$SYS/#")]
    [InlineData("$share/g//a", "g", "/a")]
    public void A_valid_shared_filter_gives_its_share_name_and_topic_filter(string filter, string shareName, string topicFilter)
    {
        Assert.True(SharedSubscriptionFilter.TryParse(filter, out var shared));
        Assert.Equal(new SharedSubscriptionFilter(shareName, topicFilter), shared);
        Assert.Equal(filter, shared.ToString());
    }

    [Theory]
    [InlineData("$share//t")] // MQTT-4.8.2-1: a ShareName at least one character long
    [InlineData("$share/g")] // MQTT-4.8.2-2: followed by "/" and a topic filter
    [InlineData("$share/g/")]
    [InlineData("$share/")]
    [InlineData("$share/g+/t")] // MQTT-4.8.2-2: no "+" or "#" in the ShareName
    [InlineData("$share/#/t")]
    [InlineData("$share/g#x/t")]
    [InlineData("$share/g/a/#/b")] // MQTT-4.7.1-1: "#" only as the last level
    [InlineData("$share/g/a+/b")] // MQTT-4.7.1-2: "+" only as a whole level
    [InlineData("$share/g/a\0b")] // MQTT-1.5.4-2: no U+0000
    public void A_shared_filter_that_breaks_the_rules_is_refused(string filter)
    {
        Assert.True(SharedSubscriptionFilter.IsShared(filter));
        Assert.False(SharedSubscriptionFilter.TryParse(filter, out _));
    }

    [Theory]
    [InlineData("sensors/#")]
    [InlineData("$SYS/#")]
    [InlineData("$shared/g/t")]
    public void Other_filters_are_not_shared_ones(string filter)
    {
        Assert.False(SharedSubscriptionFilter.IsShared(filter));
        Assert.False(SharedSubscriptionFilter.TryParse(filter, out _));
    }

    [Fact]
    public void The_stand_in_filter_reads_back_and_matches_no_topic_a_client_may_publish()
    {
        Assert.True(SharedSubscriptionFilter.TryParse("$share/g/#", out var shared));
        Assert.True(SharedSubscriptionFilter.TryParseMarker(shared.Marker, out var back));
        Assert.Equal(shared, back);
        // Whatever a client publishes outside the reserved $ topics, MQTTnet's matching never picks the stand-in.
        foreach (var topic in new[] { "g/x", "gateway-share/g/x", "share/g/x", "$SYS/gateway/uptime", "a" })
            Assert.NotEqual(MqttTopicFilterCompareResult.IsMatch, MqttTopicFilterComparer.Compare(topic, shared.Marker));
    }

    [Fact]
    public void Members_take_turns_and_each_message_goes_to_one_member_per_group()
    {
        var registry = new SharedSubscriptionRegistry();
        foreach (var id in new[] { "a", "b", "c" })
        {
            registry.Add(Group, Member(id));
            registry.SetConnected(id, true);
        }
        registry.Add(new SharedSubscriptionFilter("other", "sensors/#"), Member("d"));
        registry.SetConnected("d", true);

        var picked = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var picks = registry.PickFor("sensors/1/temp");
            Assert.Equal(2, picks.Count); // one per group
            picked.Add(picks.Single(p => p.Group == Group).Member.ClientId);
            Assert.Equal("d", picks.Single(p => p.Group != Group).Member.ClientId);
        }
        Assert.Equal(["a", "b", "c", "a", "b", "c"], picked);
        Assert.Single(registry.PickFor("sensors/1/humidity")); // only the other group's filter matches
    }

    [Fact]
    public void A_disconnected_member_is_skipped_while_others_are_connected_and_used_when_none_is()
    {
        var registry = new SharedSubscriptionRegistry();
        registry.Add(Group, Member("a"));
        registry.Add(Group, Member("b"));
        registry.SetConnected("b", true);

        Assert.All(Enumerable.Range(0, 4), _ => Assert.Equal("b", registry.PickFor("sensors/1/temp").Single().Member.ClientId));

        registry.SetConnected("b", false); // none connected: the message waits in a kept session, still in turn
        var offline = Enumerable.Range(0, 4).Select(_ => registry.PickFor("sensors/1/temp").Single().Member.ClientId).ToList();
        Assert.Contains("a", offline);
        Assert.Contains("b", offline);
    }

    [Fact]
    public void Subscribing_again_replaces_the_membership_and_leaving_every_group_ends_them()
    {
        var registry = new SharedSubscriptionRegistry();
        registry.Add(Group, Member("a"));
        registry.Add(Group, Member("a") with { Qos = MqttQualityOfServiceLevel.ExactlyOnce });
        registry.SetConnected("a", true);
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, registry.PickFor("sensors/1/temp").Single().Member.Qos);

        registry.RemoveClient("a");
        Assert.True(registry.IsEmpty);
        Assert.Empty(registry.PickFor("sensors/1/temp"));
    }

    [Fact]
    public void Unacknowledged_deliveries_are_handed_back_in_order_once_and_acknowledged_ones_are_not()
    {
        var registry = new SharedSubscriptionRegistry();
        var message = new MqttApplicationMessage { Topic = "sensors/1/temp" };
        lock (registry.Sync)
        {
            registry.Track("a", 3, new SharedDelivery(Group, message));
            registry.Track("a", 1, new SharedDelivery(Group, message));
            registry.Track("a", 2, new SharedDelivery(Group, message));
        }
        Assert.True(registry.Settle("a", 2));
        Assert.False(registry.Settle("a", 2));
        Assert.False(registry.Settle("b", 1)); // another client's packet identifiers are its own

        Assert.Equal(2, registry.TakeUnacknowledged("a").Count);
        Assert.Empty(registry.TakeUnacknowledged("a"));
    }

    [Fact]
    public void Redelivery_goes_to_another_connected_member_and_never_back_to_the_one_that_left()
    {
        var registry = new SharedSubscriptionRegistry();
        foreach (var id in new[] { "a", "b", "c" }) registry.Add(Group, Member(id));
        registry.SetConnected("a", true);
        registry.SetConnected("c", true);
        lock (registry.Sync)
        {
            Assert.Equal("c", registry.NextOther(Group, "a")!.ClientId);
            Assert.Equal("c", registry.NextOther(Group, "a")!.ClientId); // b is not connected
            registry.SetConnected("c", false);
            Assert.Null(registry.NextOther(Group, "a"));
            // When the leaver's session is gone too, a member that is away keeps it in its session.
            Assert.NotEqual("a", registry.NextOther(Group, "a", orAway: true)!.ClientId);
        }
        var alone = new SharedSubscriptionRegistry();
        alone.Add(Group, Member("a"));
        lock (alone.Sync) Assert.Null(alone.NextOther(Group, "a", orAway: true));
    }
}
