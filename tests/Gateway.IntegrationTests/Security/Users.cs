using Gateway.Security;

namespace Gateway.IntegrationTests.Security;

/// <summary>A password file made with the gateway's own <c>gateway passwd</c>, in a folder of its own.</summary>
internal sealed class Users : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("gateway-users-");

    public Users(params (string User, string Password)[] users)
    {
        foreach (var (user, password) in users) Add(user, password);
    }

    public string File => Path.Combine(_folder.FullName, "passwd");

    public void Add(string user, string password) => Assert.Equal(0, PasswdCommand.Run([File, user], new StringReader(password + "\n"), TextWriter.Null, TextWriter.Null));

    public void Delete(string user) => Assert.Equal(0, PasswdCommand.Run(["-D", File, user], TextReader.Null, TextWriter.Null, TextWriter.Null));

    public void Dispose() => _folder.Delete(recursive: true);
}
