using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class TopicCoverageTests
{
    [Theory]
    [InlineData("sensors/#", "sensors/#", true)]
    [InlineData("sensors/#", "sensors/a/+", true)]
    [InlineData("sensors/#", "sensors/a/b", true)]
    [InlineData("sensors/#", "sensors", true)] // the parent level is one of sensors/#'s topics [MQTT-4.7.1-2]
    [InlineData("sensors/+", "sensors/#", false)] // sensors/a/b is not sensors/+'s
    [InlineData("sensors/+", "sensors/+", true)]
    [InlineData("sensors/+", "sensors/a", true)]
    [InlineData("sensors/+", "sensors", false)]
    [InlineData("sensors/a", "sensors/+", false)]
    [InlineData("sensors/a", "sensors/a", true)]
    [InlineData("sensors/a/b", "sensors/a", false)]
    [InlineData("sensors/a", "sensors/a/b", false)]
    [InlineData("+/temp", "line1/temp", true)]
    [InlineData("+/temp", "+/temp", true)]
    [InlineData("+/temp", "#", false)]
    [InlineData("sensors/+/#", "sensors/#", false)] // sensors itself is sensors/#'s, not sensors/+/#'s
    [InlineData("sensors/+/#", "sensors/a/#", true)]
    [InlineData("#", "a/b/#", true)]
    [InlineData("#", "#", true)]
    [InlineData("#", "$SYS/#", false)] // a leading wildcard never reaches $ topics [MQTT-4.7.2-1]
    [InlineData("+/broker/#", "$SYS/broker/#", false)]
    [InlineData("$SYS/#", "$SYS/broker/uptime", true)]
    [InlineData("$SYS/#", "#", false)]
    public void Granted_filter_covers_a_requested_one_only_when_it_matches_every_topic_of_it(string granted, string requested, bool covers) =>
        Assert.Equal(covers, TopicCoverage.Covers(granted, requested));

    /// <summary>Each covering answer agrees with matching on sample topics: covered means every sample the request matches, the grant matches.</summary>
    [Theory]
    [InlineData("sensors/#", "sensors/a/+")]
    [InlineData("sensors/+", "sensors/a")]
    [InlineData("a/+/c", "a/b/c")]
    [InlineData("#", "a/#")]
    public void Covering_agrees_with_matching(string granted, string requested)
    {
        string[] samples = ["sensors", "sensors/a", "sensors/a/b", "a/b/c", "a", "a/x", "a/b/c/d", "$SYS/x"];
        Assert.True(TopicCoverage.Covers(granted, requested));
        foreach (var topic in samples.Where(t => TopicCoverage.Matches(requested, t)))
            Assert.True(TopicCoverage.Matches(granted, topic), $"{requested} matches {topic} but {granted} does not");
    }

    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a/b#")]
    [InlineData("a+/b")]
    [InlineData("")]
    [InlineData("a/\0")]
    public void Invalid_filters_are_named(string filter) => Assert.NotNull(TopicCoverage.ProblemWithFilter(filter));
}
