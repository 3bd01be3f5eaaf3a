using Gateway.Mqtt;

namespace Gateway.UnitTests.Mqtt;

/// <summary>Server-side topic aliases (MQTT 5, section 3.3.2.3.4).</summary>
public sealed class TopicAliasTableTests
{
    [Fact]
    public void A_topic_gets_an_alias_once_and_keeps_it()
    {
        var table = new TopicAliasTable(maximum: 3);
        Assert.False(table.TryGet("a/b", out _));
        var alias = table.Assign("a/b");
        Assert.True(table.TryGet("a/b", out var again));
        Assert.Equal(alias, again);
    }

    [Fact]
    public void Aliases_run_from_1_to_the_client_maximum_never_0_nor_above() // MQTT-3.3.2-8, MQTT-3.3.2-9
    {
        var table = new TopicAliasTable(maximum: 3);
        var issued = Enumerable.Range(0, 10).Select(i => table.Assign($"t/{i}")).ToList();
        Assert.All(issued, a => Assert.InRange(a, (ushort)1, (ushort)3));
        Assert.Equal([1, 2, 3], issued.Take(3).Select(a => (int)a));
        Assert.Equal(3, table.Count);
    }

    [Fact]
    public void When_all_are_taken_the_least_recently_used_alias_is_reassigned()
    {
        var table = new TopicAliasTable(maximum: 2);
        var first = table.Assign("first");
        table.Assign("second");
        Assert.True(table.TryGet("first", out _)); // used again: "second" is now the oldest

        var third = table.Assign("third");

        Assert.False(table.TryGet("second", out _));
        Assert.True(table.TryGet("first", out var stillFirst));
        Assert.Equal(first, stillFirst);
        Assert.NotEqual(first, third);
    }

    [Fact]
    public void A_forgotten_alias_is_given_to_the_next_new_topic_and_the_topic_is_unknown_again()
    {
        var table = new TopicAliasTable(maximum: 5);
        var alias = table.Assign("never/sent");
        table.Forget("never/sent");

        Assert.False(table.TryGet("never/sent", out _));
        Assert.Equal(alias, table.Assign("next"));
    }

    [Fact]
    public void A_maximum_of_0_means_no_aliases_and_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TopicAliasTable(0));
    }
}
