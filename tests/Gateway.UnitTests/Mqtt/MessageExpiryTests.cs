using System.Text;
using Gateway.Mqtt;
using MQTTnet;
using MQTTnet.Packets;

namespace Gateway.UnitTests.Mqtt;

/// <summary>Message expiry towards subscribers (MQTT 5, section 3.3.2.3.3).</summary>
public sealed class MessageExpiryTests
{
    private static readonly DateTimeOffset Entered = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(60, 0, 60)]
    [InlineData(60, 0.4, 60)] // 59.6 s left: rounded up, never more than the original
    [InlineData(60, 10, 50)]
    [InlineData(60, 59.5, 1)] // under a second left is still deliverable, and 0 would mean "never expires"
    public void A_delivered_message_carries_the_time_left_not_the_original_interval(uint interval, double waitedSeconds, uint expected) // MQTT-3.3.2-6
    {
        Assert.True(MessageExpiry.TryRemaining(interval, Entered, Entered.AddSeconds(waitedSeconds), out var remaining));
        Assert.Equal(expected, remaining);
    }

    [Theory]
    [InlineData(60, 60)]
    [InlineData(60, 3600)]
    [InlineData(1, 1.001)]
    public void A_message_whose_interval_has_passed_is_not_delivered(uint interval, double waitedSeconds) // MQTT-3.3.2-5
    {
        Assert.False(MessageExpiry.TryRemaining(interval, Entered, Entered.AddSeconds(waitedSeconds), out _));
    }

    [Fact]
    public void No_interval_never_expires()
    {
        Assert.True(MessageExpiry.TryRemaining(0, Entered, Entered.AddDays(400), out var remaining));
        Assert.Equal(0u, remaining);
    }

    [Fact]
    public void A_clock_set_back_never_gives_more_time_than_the_message_came_with()
    {
        Assert.True(MessageExpiry.TryRemaining(30, Entered, Entered.AddMinutes(-5), out var remaining));
        Assert.Equal(30u, remaining);
    }

    [Fact]
    public void The_stamp_replaces_one_a_client_sent_and_leaves_the_shared_list_alone()
    {
        var clientsOwn = new List<MqttUserProperty>
        {
            new("site", new ReadOnlyMemory<byte>("north"u8.ToArray())),
            new(MessageExpiry.EnteredAtProperty, new ReadOnlyMemory<byte>("0"u8.ToArray())),
        };
        var message = new MqttApplicationMessage { Topic = "t", MessageExpiryInterval = 10, UserProperties = clientsOwn };

        MessageExpiry.Stamp(message, Entered);

        Assert.Equal(Entered, MessageExpiry.EnteredAt(message.UserProperties));
        Assert.Single(message.UserProperties, p => p.Name == MessageExpiry.EnteredAtProperty);
        Assert.Equal(2, clientsOwn.Count); // MQTTnet's list, shared with other copies, untouched
        Assert.Equal("0", Encoding.UTF8.GetString(clientsOwn[1].ValueBuffer.Span));
    }

    [Fact]
    public void A_message_without_an_interval_is_not_stamped()
    {
        var message = new MqttApplicationMessage { Topic = "t" };
        MessageExpiry.Stamp(message, Entered);
        Assert.Null(message.UserProperties);
    }

    [Fact]
    public void Taking_the_stamp_off_keeps_the_other_properties_and_leaves_none_when_it_was_alone()
    {
        var message = new MqttApplicationMessage { Topic = "t", MessageExpiryInterval = 10 };
        MessageExpiry.Stamp(message, Entered);
        Assert.Null(MessageExpiry.WithoutStamp(message.UserProperties));

        var site = new MqttUserProperty("site", new ReadOnlyMemory<byte>("north"u8.ToArray()));
        message.UserProperties = [site];
        MessageExpiry.Stamp(message, Entered);
        Assert.Equal([site], MessageExpiry.WithoutStamp(message.UserProperties)!);
    }

    [Fact]
    public void A_stamped_message_past_its_interval_has_expired_and_one_without_a_stamp_never_has()
    {
        var message = new MqttApplicationMessage { Topic = "t", MessageExpiryInterval = 5 };
        Assert.False(MessageExpiry.HasExpired(message, Entered.AddYears(1)));
        MessageExpiry.Stamp(message, Entered);
        Assert.False(MessageExpiry.HasExpired(message, Entered.AddSeconds(4)));
        Assert.True(MessageExpiry.HasExpired(message, Entered.AddSeconds(5)));
    }
}
