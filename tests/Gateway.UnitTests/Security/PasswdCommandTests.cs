using Gateway.Security;

namespace Gateway.UnitTests.Security;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PasswdCommandTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("passwd-");

    private string File_ => Path.Combine(_folder.FullName, "passwd");

    public void Dispose() => _folder.Delete(recursive: true);

    private (int Code, string Out, string Err) Run(string stdin, params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = PasswdCommand.Run(args, new StringReader(stdin), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private UserFile Users() => UserFile.Parse(File.ReadAllText(File_));

    [Fact]
    public void Adds_a_user_from_standard_input_in_a_new_file_only_its_owner_may_read()
    {
        var (code, output, _) = Run("s3cret\n", File_, "alice");

        Assert.Equal(0, code);
        Assert.Contains("added user 'alice'", output);
        Assert.True(Users().Users["alice"].Matches("s3cret"));
        Assert.DoesNotContain("s3cret", File.ReadAllText(File_));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(File_));
        Assert.Empty(Directory.GetFiles(_folder.FullName, "*.tmp"));
    }

    [Fact]
    public void Replaces_a_users_password_and_keeps_the_other_lines_and_the_files_mode()
    {
        File.WriteAllText(File_, "# the users\n");
        File.SetUnixFileMode(File_, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Equal(0, Run("one\n", File_, "alice").Code);
        Assert.Equal(0, Run("two\n", File_, "bob").Code);

        var (code, output, _) = Run("three\n", File_, "alice");

        Assert.Equal(0, code);
        Assert.Contains("replaced", output);
        Assert.True(Users().Users["alice"].Matches("three"));
        Assert.True(Users().Users["bob"].Matches("two"));
        Assert.StartsWith("# the users\n", File.ReadAllText(File_));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(File_));
    }

    [Fact]
    public void Deletes_a_user_and_says_so_when_there_is_none()
    {
        Run("one\n", File_, "alice");
        Run("two\n", File_, "bob");

        Assert.Equal(0, Run("", "-D", File_, "alice").Code);
        Assert.Equal("bob", Assert.Single(Users().Users.Keys));
        var (code, _, error) = Run("", "-D", File_, "alice");
        Assert.Equal(1, code);
        Assert.Contains("no user 'alice'", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    public void An_empty_password_changes_nothing(string stdin)
    {
        var (code, _, error) = Run(stdin, File_, "alice");
        Assert.Equal(1, code);
        Assert.Contains("empty password", error);
        Assert.False(File.Exists(File_));
    }

    [Fact]
    public void A_prompt_is_asked_twice_and_must_agree()
    {
        var answers = new Queue<string>(["a", "b"]);
        var error = new StringWriter();
        Assert.Equal(1, PasswdCommand.Run([File_, "alice"], TextReader.Null, TextWriter.Null, error, _ => answers.Dequeue()));
        Assert.Contains("differ", error.ToString());

        answers = new Queue<string>(["same", "same"]);
        Assert.Equal(0, PasswdCommand.Run([File_, "alice"], TextReader.Null, TextWriter.Null, error, _ => answers.Dequeue()));
        Assert.True(Users().Users["alice"].Matches("same"));
    }

    [Theory]
    [InlineData]
    [InlineData("onlyfile")]
    [InlineData("-X", "f", "u")]
    [InlineData("f", "bad:name")]
    public void Wrong_usage_exits_2(params string[] args)
    {
        Assert.Equal(2, Run("pw\n", args).Code);
    }
}
