using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Security;

public sealed class AccessControlTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("acl-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Without_an_acl_file_everyone_may_do_everything()
    {
        using var control = new AccessControl(new GatewayOptions(), new GatewayMetrics(), NullLogger<AccessControl>.Instance);
        Assert.False(control.IsEnabled);
        Assert.Same(ClientAccess.Unrestricted, control.For(null, "c").Current);
    }

    [Fact]
    public void A_changed_file_applies_to_a_client_already_connected()
    {
        var path = Path.Combine(_folder, "acl");
        File.WriteAllText(path, "user alice\ntopic write a\n");
        using var control = new AccessControl(Options(path), new GatewayMetrics(), NullLogger<AccessControl>.Instance);
        var alice = control.For("alice", "c");
        Assert.True(alice.Current.MayWrite("a").IsAllowed);

        File.WriteAllText(path, "user alice\ntopic write b/#\n");
        control.Poll();

        Assert.False(alice.Current.MayWrite("a").IsAllowed);
        Assert.True(alice.Current.MayWrite("b/c").IsAllowed);
    }

    [Fact]
    public void A_bad_file_at_start_stops_the_start_naming_the_line()
    {
        var path = Path.Combine(_folder, "acl");
        File.WriteAllText(path, "user alice\ntopic wirte\nbogus line\n");
        var ex = Assert.Throws<GatewayConfigurationException>(() => new AccessControl(Options(path), new GatewayMetrics(), NullLogger<AccessControl>.Instance));
        Assert.Contains("Gateway:Auth:AclFile", ex.Message);
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void Refusals_are_counted_by_kind_every_time()
    {
        var path = Path.Combine(_folder, "acl");
        File.WriteAllText(path, "");
        var metrics = new GatewayMetrics();
        using var control = new AccessControl(Options(path), metrics, NullLogger<AccessControl>.Instance);
        for (var i = 0; i < 3; i++) control.Refused("mqtt_publish", "c", "u", "c", "t", AclDecision.NoGrant);
        Assert.Equal(3, metrics.Get("acl_denied_total", "mqtt_publish"));
    }

    [Fact]
    public void A_flood_of_refusals_on_one_connection_is_logged_once_per_interval_and_each_connection_once()
    {
        var path = Path.Combine(_folder, "acl");
        File.WriteAllText(path, "");
        var log = new CountingLogger();
        using var control = new AccessControl(Options(path), new GatewayMetrics(), log);

        for (var i = 0; i < 1000; i++) control.Refused("mqtt_publish", "flooder", "u", "flooder", "t", AclDecision.NoGrant);
        control.Refused("mqtt_publish", "other", "u", "other", "t", AclDecision.NoGrant);

        Assert.Equal(2, log.Warnings); // the flooder's first refusal, and the other connection's
    }

    private sealed class CountingLogger : ILogger<AccessControl>
    {
        public int Warnings;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) Interlocked.Increment(ref Warnings);
        }
    }

    private static GatewayOptions Options(string aclFile) => new() { Auth = new AuthOptions { AclFile = aclFile } };
}
