using Gateway.Mqtt;

namespace Gateway.UnitTests.Mqtt;

/// <summary>The client's Receive Maximum as the server's send quota (MQTT 5, sections 3.3.4 and 4.9).</summary>
public sealed class InFlightWindowTests
{
    [Fact]
    public void A_third_publish_finds_no_room_while_two_are_unacknowledged_with_receive_maximum_2() // MQTT-3.3.4-9
    {
        var window = new InFlightWindow(2);
        Assert.True(window.TryTake(1));
        Assert.True(window.TryTake(2));
        Assert.False(window.TryTake(3));
        Assert.Equal(2, window.Count);
    }

    [Fact]
    public void An_acknowledgement_makes_room_for_one_more()
    {
        var window = new InFlightWindow(2);
        window.TryTake(1);
        window.TryTake(2);

        Assert.True(window.Release(1));

        Assert.True(window.TryTake(3));
        Assert.False(window.TryTake(4));
    }

    [Fact]
    public void An_ack_for_an_identifier_never_counted_frees_nothing()
    {
        var window = new InFlightWindow(1);
        window.TryTake(7);
        Assert.False(window.Release(8)); // an earlier connection's, say
        Assert.False(window.TryTake(9));
    }

    [Fact]
    public void The_same_publish_sent_again_takes_no_second_slot()
    {
        var window = new InFlightWindow(2);
        window.TryTake(5);
        Assert.True(window.TryTake(5));
        Assert.Equal(1, window.Count);
    }

    [Fact]
    public void No_receive_maximum_means_65535() // section 3.1.2.11.3: absent means 65,535
    {
        Assert.Equal(65_535, new InFlightWindow(0).Maximum);
    }
}
