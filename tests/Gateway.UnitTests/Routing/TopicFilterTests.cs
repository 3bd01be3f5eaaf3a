using Gateway.Core.Routing;

namespace Gateway.UnitTests.Routing;

public sealed class TopicFilterTests
{
    [Theory]
    [InlineData("sensors/line1/temp", "sensors/line1/temp", true)]
    [InlineData("sensors/+/temp", "sensors/line1/temp", true)]
    [InlineData("sensors/+/temp", "sensors/line1/humidity", false)]
    [InlineData("sensors/+/temp", "sensors/temp", false)]
    [InlineData("sensors/#", "sensors/line1/temp", true)]
    [InlineData("sensors/#", "sensors", true)]
    [InlineData("sensors/#", "sensorsx/a", false)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("+", "a", true)]
    [InlineData("+", "a/b", false)]
    [InlineData("+/+", "/a", true)]
    [InlineData("a/+/#", "a/b", true)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("#", "$SYS/broker/uptime", false)]
    [InlineData("+/broker/uptime", "$SYS/broker/uptime", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    public void Filter_matches_topics_as_the_MQTT_spec_says(string filter, string topic, bool expected) =>
        Assert.Equal(expected, TopicFilter.Matches(filter, topic));

    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a/b#")]
    [InlineData("a/+b")]
    [InlineData("")]
    public void Invalid_filters_are_named_with_a_reason(string filter) =>
        Assert.NotNull(TopicFilter.Validate(filter));

    [Theory]
    [InlineData("a/+/b/#")]
    [InlineData("#")]
    [InlineData("a")]
    public void Valid_filters_have_no_problem(string filter) => Assert.Null(TopicFilter.Validate(filter));
}
