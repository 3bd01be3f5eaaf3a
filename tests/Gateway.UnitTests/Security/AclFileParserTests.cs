using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class AclFileParserTests
{
    private const string Example = """
        # anonymous clients: read the public topics
        topic read public/#

        user alice
        topic readwrite sensors/#
        topic deny sensors/secret/#
        topic commands/valve7

        user bob
          topic write telemetry/bob
        topic read $SYS/#

        pattern write devices/%u/#
        pattern read clients/%c/inbox
        """;

    [Fact]
    public void Each_rule_shape_is_read_with_its_access_and_line()
    {
        var rules = AclFileParser.Parse(Example);

        Assert.Equal([new AclRule(AclAccess.Read, "public/#", 2)], rules.Anonymous);
        Assert.Equal(
            [new AclRule(AclAccess.ReadWrite, "sensors/#", 5), new AclRule(AclAccess.Deny, "sensors/secret/#", 6), new AclRule(AclAccess.ReadWrite, "commands/valve7", 7)],
            rules.Users["alice"]);
        Assert.Equal([new AclRule(AclAccess.Write, "telemetry/bob", 10), new AclRule(AclAccess.Read, "$SYS/#", 11)], rules.Users["bob"]);
        Assert.Equal([new AclRule(AclAccess.Write, "devices/%u/#", 13), new AclRule(AclAccess.Read, "clients/%c/inbox", 14)], rules.Patterns);
    }

    [Fact]
    public void A_second_section_for_a_user_adds_to_the_first()
    {
        var rules = AclFileParser.Parse("user a\ntopic read x\nuser b\ntopic read y\nuser a\ntopic write z\n");
        Assert.Equal(["x", "z"], rules.Users["a"].Select(r => r.Filter));
    }

    [Fact]
    public void Windows_line_ends_and_a_topic_named_like_an_access_word_are_read_as_Mosquitto_reads_them()
    {
        var rules = AclFileParser.Parse("topic read\r\ntopic deny #\r\n");
        Assert.Equal([new AclRule(AclAccess.ReadWrite, "read", 1), new AclRule(AclAccess.Deny, "#", 2)], rules.Anonymous);
    }

    [Theory]
    [InlineData("topic read a/#/b", 1, "'#' must be the last level")]
    [InlineData("# fine\nusr alice", 2, "'usr' is not a rule")]
    [InlineData("\n\nuser", 3, "needs a user name")]
    [InlineData("user a\ntopic", 2, "needs a topic filter")]
    [InlineData("pattern write devices/%u+/x", 1, "wildcard must fill a whole level")]
    public void A_bad_line_is_refused_naming_its_number(string text, int line, string problem)
    {
        var ex = Assert.Throws<FormatException>(() => AclFileParser.Parse(text));
        Assert.StartsWith($"line {line}: ", ex.Message);
        Assert.Contains(problem, ex.Message);
    }
}
