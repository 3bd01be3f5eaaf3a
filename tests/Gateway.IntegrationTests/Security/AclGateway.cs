namespace Gateway.IntegrationTests.Security;

/// <summary>A real gateway process with an ACL file (<c>Gateway:Auth:AclFile</c>) the test can rewrite while it runs.</summary>
internal static class AclGateway
{
    /// <summary>
    /// alice reads sensors but not their secrets and writes only under devices/alice (the %u pattern);
    /// every client reads and writes under clients/&lt;its client id&gt; (the %c pattern); watcher does everything.
    /// </summary>
    public const string Rules = """
        # anonymous clients: nothing but the public topics
        topic read public/#

        user alice
        topic read sensors/#
        topic deny sensors/secret/#
        topic read $SYS/#

        user watcher
        topic readwrite #

        pattern write devices/%u/#
        pattern readwrite clients/%c/#
        """;

    /// <summary>The password of every user of these tests (the users are checked before their rules apply).</summary>
    public const string Password = "acl-test-password";

    /// <summary>The users the rules name, in the gateway's password file; anonymous clients are let in too, for the rules before any user line.</summary>
    public static async Task<(GatewayProcess Gateway, string AclPath)> StartAsync(string rules = Rules)
    {
        var folder = Directory.CreateTempSubdirectory("gateway-acl-").FullName;
        var path = Path.Combine(folder, "acl");
        await File.WriteAllTextAsync(path, rules);
        var passwords = Path.Combine(folder, "passwd");
        foreach (var user in new[] { "alice", "watcher" })
            Assert.Equal(0, Gateway.Security.PasswdCommand.Run([passwords, user], new StringReader(Password + "\n"), TextWriter.Null, TextWriter.Null));
        var gateway = new GatewayProcess(new Dictionary<string, string>
        {
            ["Gateway__Auth__AclFile"] = path,
            ["Gateway__Auth__PasswordFile"] = passwords,
            ["Gateway__Auth__AllowAnonymous"] = "true",
        });
        await gateway.StartAsync();
        return (gateway, path);
    }

    /// <summary>Rewrites the file and waits for the gateway to say it read it again.</summary>
    public static async Task RewriteAsync(GatewayProcess gateway, string path, string rules)
    {
        var before = Reloads(gateway);
        // Through a rename, as editors do: the gateway never reads a half-written file.
        await File.WriteAllTextAsync(path + ".new", rules);
        File.Move(path + ".new", path, overwrite: true);
        await Poll.UntilAsync(() => Reloads(gateway) > before, Patience.Reaction, "the gateway to read the ACL file again");
    }

    private static int Reloads(GatewayProcess gateway) =>
        gateway.Output.Split('\n').Count(l => l.Contains("Read the ACL file (Gateway:Auth:AclFile)", StringComparison.Ordinal));
}
