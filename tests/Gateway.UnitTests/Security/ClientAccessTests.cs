using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class ClientAccessTests
{
    private static readonly AccessRules Rules = AclFileParser.Parse("""
        topic read public/#
        user alice
        topic readwrite sensors/#
        topic deny sensors/secret/#
        topic read $SYS/#
        user carol
        topic write sensors/carol
        topic read sensors/+
        pattern write devices/%u/#
        pattern readwrite clients/%c/#
        """);

    [Fact]
    public void A_write_needs_a_write_rule_matching_the_topic()
    {
        var alice = Rules.For("alice", "a1");
        Assert.True(alice.MayWrite("sensors/line1/temp").IsAllowed);
        Assert.False(alice.MayWrite("commands/valve7").IsAllowed);
        var carol = Rules.For("carol", "c1");
        Assert.True(carol.MayWrite("sensors/carol").IsAllowed);
        Assert.False(carol.MayWrite("sensors/alice").IsAllowed); // read only there
        Assert.Null(carol.MayWrite("sensors/alice").Deny); // refused for want of a grant
    }

    [Fact]
    public void A_deny_rule_wins_over_a_grant_for_writes_reads_and_covered_subscriptions()
    {
        var alice = Rules.For("alice", "a1");
        var write = alice.MayWrite("sensors/secret/key");
        Assert.False(write.IsAllowed);
        Assert.Equal(4, write.Deny!.Line);
        Assert.False(alice.MayRead("sensors/secret/key").IsAllowed);
        Assert.False(alice.MaySubscribe("sensors/secret/#").IsAllowed);
        Assert.False(alice.MaySubscribe("sensors/secret/+").IsAllowed);
        // Only part of it denied: granted, and the denied topics are held back one by one.
        Assert.True(alice.MaySubscribe("sensors/#").IsAllowed);
        Assert.True(alice.MayRead("sensors/line1").IsAllowed);
    }

    [Theory]
    [InlineData("sensors/#", true)]
    [InlineData("sensors/a/+", true)]
    [InlineData("#", false)]
    [InlineData("$SYS/#", true)]
    [InlineData("public/x", false)] // the anonymous section is not alice's
    public void A_subscription_needs_a_read_rule_covering_the_filter(string filter, bool allowed) =>
        Assert.Equal(allowed, Rules.For("alice", "a1").MaySubscribe(filter).IsAllowed);

    [Fact]
    public void A_read_grant_on_one_level_does_not_cover_a_multi_level_subscription()
    {
        var carol = Rules.For("carol", "c1");
        Assert.True(carol.MaySubscribe("sensors/+").IsAllowed);
        Assert.False(carol.MaySubscribe("sensors/#").IsAllowed);
    }

    [Fact]
    public void Anonymous_clients_have_the_rules_before_any_user_line_and_the_patterns_without_a_user()
    {
        foreach (var anonymous in new[] { Rules.For(null, "x1"), Rules.For("", "x1") })
        {
            Assert.True(anonymous.MaySubscribe("public/#").IsAllowed);
            Assert.False(anonymous.MayWrite("public/a").IsAllowed);
            Assert.False(anonymous.MaySubscribe("sensors/#").IsAllowed);
            Assert.True(anonymous.MayWrite("clients/x1/out").IsAllowed); // %c applies to them
            Assert.False(anonymous.MayWrite("devices//a").IsAllowed); // %u does not, even as an empty level
        }
    }

    [Fact]
    public void An_unknown_user_has_the_patterns_only()
    {
        var dave = Rules.For("dave", "d1");
        Assert.True(dave.MayWrite("devices/dave/x").IsAllowed);
        Assert.False(dave.MayRead("public/a").IsAllowed);
    }

    [Fact]
    public void A_user_pattern_grants_the_users_own_subtree_only()
    {
        var alice = Rules.For("alice", "a1");
        Assert.True(alice.MayWrite("devices/alice/temp").IsAllowed);
        Assert.True(alice.MayWrite("devices/alice").IsAllowed);
        Assert.False(alice.MayWrite("devices/bob/temp").IsAllowed);
        Assert.False(alice.MayRead("devices/alice/temp").IsAllowed); // write only
    }

    [Fact]
    public void A_client_id_pattern_grants_the_clients_own_subtree_only()
    {
        var alice = Rules.For("alice", "pump-3");
        Assert.True(alice.MaySubscribe("clients/pump-3/#").IsAllowed);
        Assert.False(alice.MaySubscribe("clients/pump-4/#").IsAllowed);
    }

    [Theory]
    [InlineData("a/#", "c")]
    [InlineData("#", "c")]
    [InlineData("+", "c")]
    [InlineData("alice/x", "c")]
    public void A_user_name_holding_a_slash_or_wildcard_is_not_put_into_a_pattern(string user, string clientId)
    {
        var access = AclFileParser.Parse("pattern readwrite devices/%u/#").For(user, clientId);
        Assert.False(access.MayWrite("devices/a/b").IsAllowed);
        Assert.False(access.MaySubscribe("devices/#").IsAllowed);
        Assert.False(access.MayWrite("devices/alice/x/y").IsAllowed);
    }

    [Theory]
    [InlineData("dev/#")]
    [InlineData("+")]
    [InlineData("")]
    public void A_client_id_holding_a_slash_or_wildcard_or_empty_is_not_put_into_a_pattern(string clientId)
    {
        var access = AclFileParser.Parse("pattern readwrite clients/%c/#").For("u", clientId);
        Assert.False(access.MaySubscribe("clients/#").IsAllowed);
        Assert.False(access.MayWrite("clients/dev/x").IsAllowed);
    }

    [Fact]
    public void Sys_topics_need_a_rule_of_their_own()
    {
        var everything = AclFileParser.Parse("topic readwrite #").For(null, "c");
        Assert.True(everything.MaySubscribe("a/#").IsAllowed);
        Assert.False(everything.MaySubscribe("$SYS/#").IsAllowed);
        Assert.False(everything.MayRead("$SYS/broker/uptime").IsAllowed);
    }

    [Fact]
    public void Unrestricted_allows_everything_including_sys_topics()
    {
        Assert.True(ClientAccess.Unrestricted.MaySubscribe("#").IsAllowed);
        Assert.True(ClientAccess.Unrestricted.MaySubscribe("$SYS/#").IsAllowed);
        Assert.True(ClientAccess.Unrestricted.MayWrite("a/b").IsAllowed);
    }

    [Fact]
    public void An_empty_file_allows_nothing() =>
        Assert.False(AclFileParser.Parse("# nothing yet\n").For("alice", "c").MayWrite("a").IsAllowed);
}
