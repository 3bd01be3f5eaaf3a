using Gateway.Core.Routing;

namespace Gateway.UnitTests.Routing;

public sealed class TopicMappingTests
{
    [Theory]
    [InlineData("sensors/line1/temp", "sensors.line1.temp")]
    [InlineData("sensors/line1.a/temp", "sensors.line1/a.temp")]
    [InlineData("sensors/+/temp", "sensors.*.temp")]
    [InlineData("sensors/#", "sensors.#")]
    [InlineData("plain", "plain")]
    public void Mqtt_topics_map_to_dotted_keys_like_the_RabbitMQ_plugins(string topic, string dotted)
    {
        Assert.Equal(dotted, TopicMapping.MqttTopicToDotted(topic));
        Assert.Equal(topic, TopicMapping.DottedToMqttTopic(dotted));
    }

    [Fact]
    public void A_route_without_a_fixed_key_uses_the_mapped_topic()
    {
        Assert.Equal("a.b.c", new RouteTarget(Exchange: "amq.topic").RoutingKeyFor("a/b/c"));
        Assert.Equal("fixed", new RouteTarget(Exchange: "x", RoutingKey: "fixed").RoutingKeyFor("a/b/c"));
    }
}
