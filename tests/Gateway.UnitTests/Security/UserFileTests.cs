using Gateway.Security;

namespace Gateway.UnitTests.Security;

public sealed class UserFileTests
{
    private static readonly string Hash = PasswordHash.Create("pw", PasswordHash.MinimumIterations).ToString();

    [Fact]
    public void Users_are_read_one_a_line_skipping_comments_and_blank_lines()
    {
        var file = UserFile.Parse($"# users\n\nalice:{Hash}\r\nbob:{Hash}\n");
        Assert.Equal(["alice", "bob"], file.Users.Keys.Order());
        Assert.True(file.Users["bob"].Matches("pw"));
    }

    [Theory]
    [InlineData("alice", "line 1 is not user:hash")]
    [InlineData("alice:secret", "line 1 (user 'alice')")]
    [InlineData("al ice:$h", "line 1: a user name must not contain")]
    public void A_bad_line_is_named_by_number_without_its_text(string line, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => UserFile.Parse("# ok\n" + line.Replace("$h", Hash)));
        Assert.Contains(expected.Replace("line 1", "line 2"), ex.Message);
        Assert.DoesNotContain("secret", ex.Message);
    }

    [Fact]
    public void A_user_twice_is_refused()
    {
        var ex = Assert.Throws<FormatException>(() => UserFile.Parse($"a:{Hash}\na:{Hash}"));
        Assert.Contains("appears twice", ex.Message);
    }
}
