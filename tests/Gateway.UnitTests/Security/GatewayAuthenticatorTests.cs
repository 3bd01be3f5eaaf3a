using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Security;

public sealed class GatewayAuthenticatorTests : IDisposable
{
    private static readonly IPAddress Network = IPAddress.Parse("192.0.2.10");
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("authenticator-");
    private readonly GatewayMetrics _metrics = new();

    public void Dispose() => _folder.Delete(recursive: true);

    private GatewayAuthenticator Open(bool allowAnonymous = false, string? users = null)
    {
        string? file = null;
        if (users is not null)
        {
            file = Path.Combine(_folder.FullName, "passwd");
            File.WriteAllText(file, users);
        }
        var options = new GatewayOptions { Auth = new AuthOptions { AllowAnonymous = allowAnonymous, PasswordFile = file } };
        return new GatewayAuthenticator(options, _metrics, NullLogger<GatewayAuthenticator>.Instance);
    }

    private static string Line(string user, string password) => $"{user}:{PasswordHash.Create(password, PasswordHash.MinimumIterations)}\n";

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("192.0.2.10", false)]
    [InlineData("::ffff:192.0.2.10", false)]
    [InlineData("fd00::2", false)]
    public async Task Without_users_anonymous_clients_get_in_from_loopback_only(string address, bool accepted)
    {
        using var authenticator = Open();
        var result = await authenticator.LoginAsync("mqtt", null, null, IPAddress.Parse(address), CancellationToken.None);
        Assert.Equal(accepted ? LoginOutcome.Accepted : LoginOutcome.AnonymousRefused, result.Outcome);
        Assert.Null(result.User);
    }

    [Fact]
    public async Task A_password_file_not_there_yet_means_no_users()
    {
        var options = new GatewayOptions { Auth = new AuthOptions { PasswordFile = Path.Combine(_folder.FullName, "later") } };
        using var authenticator = new GatewayAuthenticator(options, _metrics, NullLogger<GatewayAuthenticator>.Instance);
        Assert.False(authenticator.UsersConfigured);
        Assert.True((await authenticator.LoginAsync("mqtt", "", null, IPAddress.Loopback, CancellationToken.None)).IsAccepted);
    }

    [Fact]
    public async Task With_users_anonymous_clients_are_refused_even_on_loopback_unless_AllowAnonymous()
    {
        using var strict = Open(users: Line("alice", "pw"));
        Assert.Equal(LoginOutcome.AnonymousRefused, (await strict.LoginAsync("stomp", null, null, IPAddress.Loopback, CancellationToken.None)).Outcome);

        using var open = Open(allowAnonymous: true, users: Line("alice", "pw"));
        Assert.True((await open.LoginAsync("stomp", null, null, Network, CancellationToken.None)).IsAccepted);
    }

    [Fact]
    public async Task A_user_gets_in_with_the_right_password_only_and_an_unknown_user_is_refused_alike()
    {
        using var authenticator = Open(users: Line("alice", "pw"));

        var right = await authenticator.LoginAsync("mqtt", "alice", "pw", Network, CancellationToken.None);
        Assert.Equal((LoginOutcome.Accepted, "alice"), (right.Outcome, right.User));
        var again = await authenticator.LoginAsync("mqtt", "alice", "pw", Network, CancellationToken.None); // remembered
        Assert.Equal("alice", again.User);
        var wrong = await authenticator.LoginAsync("mqtt", "alice", "pW", Network, CancellationToken.None);
        var unknown = await authenticator.LoginAsync("mqtt", "bob", "pw", Network, CancellationToken.None);
        Assert.Equal(LoginOutcome.BadCredentials, wrong.Outcome);
        Assert.Equal(wrong, unknown);
        Assert.Equal(2, _metrics.Get("auth_logins_failed_total", "mqtt"));
        Assert.Equal(2, _metrics.Get("auth_logins_total", "mqtt"));
    }

    [Fact]
    public async Task With_no_users_a_user_name_is_refused_rather_than_let_in_unchecked()
    {
        using var authenticator = Open(allowAnonymous: true);
        var result = await authenticator.LoginAsync("mqtt", "alice", "pw", IPAddress.Loopback, CancellationToken.None);
        Assert.Equal(LoginOutcome.BadCredentials, result.Outcome);
        Assert.Contains("no users are configured", result.Reason);
    }

    [Fact]
    public async Task After_the_allowed_failures_the_right_password_is_held_back()
    {
        using var authenticator = Open(users: Line("alice", "pw"));
        for (var i = 0; i < authenticator.Options.FailedLoginsAllowed; i++)
            await authenticator.LoginAsync("http", "alice", "guess" + i, Network, CancellationToken.None);

        var held = await authenticator.LoginAsync("mqtt", "alice", "pw", Network, CancellationToken.None);
        Assert.Equal(LoginOutcome.HeldBack, held.Outcome);
        Assert.True((await authenticator.LoginAsync("mqtt", "alice", "pw", IPAddress.Parse("192.0.2.11"), CancellationToken.None)).IsAccepted, "another address is not held back");
        Assert.Equal(1, _metrics.Get("auth_logins_held_back_total", "mqtt"));
    }
}
