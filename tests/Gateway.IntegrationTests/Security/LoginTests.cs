using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// Users from the password file on every listener: a wrong password and an unknown user refused alike
/// (CONNACK 0x86 / 0x04, STOMP ERROR), the file re-read while running, the back-off after repeated
/// failures from one address, HTTP Basic on the page. Through the real gateway process.
/// </summary>
public sealed class LoginTests
{
    private const string AlicePassword = "correct horse battery";

    private static GatewayProcess Gateway(Users users, params (string Key, string Value)[] more) =>
        new(AnonymousDefaultTests.OnEveryAddress([("Gateway__Auth__PasswordFile", users.File), ("Gateway__Auth__FailedLoginsAllowed", "1000"), .. more]));

    [Theory]
    [InlineData(MqttProtocolVersion.V311)] // CONNACK return code 0x04 (MQTT 3.1.1 section 3.2.2.3)
    [InlineData(MqttProtocolVersion.V500)] // CONNACK reason code 0x86 (MQTT 5 section 3.2.2.2)
    public async Task MQTT_wrong_password_and_unknown_user_are_refused_alike_and_the_right_one_gets_in(MqttProtocolVersion version)
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users);
        await gateway.StartAsync();
        var port = gateway.MqttPort;

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", port, version, "alice", "wrong-guess-1"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", port, version, "mallory", "wrong-guess-2"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", port, version, "alice", "wrong-guess-3", webSocketPort: gateway.HttpPort));
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await LoginProbe.MqttAsync("127.0.0.1", port, version)); // users exist: no anonymous, even locally
        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync("127.0.0.1", port, version, "alice", AlicePassword));
        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync(LoginProbe.NonLoopbackAddress().ToString(), port, version, "alice", AlicePassword, webSocketPort: gateway.HttpPort));

        var v5 = version == MqttProtocolVersion.V500;
        var wrong = await LoginProbe.MosquittoPubAsync("127.0.0.1", port, "alice", "wrong-guess-4", v5);
        Assert.True(wrong.ExitCode == (v5 ? 0x86 : 4), $"mosquitto_pub with a wrong password: {wrong}");
        var unknown = await LoginProbe.MosquittoPubAsync("127.0.0.1", port, "nobody", "wrong-guess-5", v5);
        Assert.True(unknown.ExitCode == (v5 ? 0x86 : 4), $"mosquitto_pub as an unknown user: {unknown}");
        Assert.Equal(0, (await LoginProbe.MosquittoPubAsync("127.0.0.1", port, "alice", AlicePassword, v5)).ExitCode);

        Assert.Equal(5, await gateway.MetricAsync("auth_logins_failed_total", "mqtt"));
        var failures = gateway.Output.Split('\n').Where(l => l.Contains("Failed mqtt login")).ToList();
        Assert.Equal(5, failures.Count);
        Assert.Contains(failures, l => l.Contains("as user 'mallory' from 127.0.0.1"));
        Assert.DoesNotContain("wrong-guess", gateway.Output);
        Assert.DoesNotContain(AlicePassword, gateway.Output);
    }

    [Fact]
    public async Task STOMP_wrong_password_and_unknown_user_get_an_ERROR_saying_authentication_failed_then_the_connection_closes()
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users);
        await gateway.StartAsync();

        foreach (var (login, passcode) in new[] { ("alice", "wrong-guess-1"), ("mallory", "wrong-guess-2") })
        {
            var frame = await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, login, passcode);
            Assert.StartsWith("ERROR\n", frame);
            Assert.Equal("authentication failed: bad user name or password", LoginProbe.Header(frame, "message"));
        }
        Assert.Equal("ERROR authentication failed: bad user name or password", await LoginProbe.StompJsAsync("127.0.0.1", gateway.HttpPort, "alice", "wrong-guess-3"));
        Assert.StartsWith("ERROR not authorized: a user name and password are required", await LoginProbe.StompJsAsync("127.0.0.1", gateway.HttpPort));

        Assert.StartsWith("CONNECTED\n", await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, "alice", AlicePassword));
        Assert.Equal("CONNECTED", await LoginProbe.StompJsAsync(LoginProbe.NonLoopbackAddress().ToString(), gateway.HttpPort, "alice", AlicePassword));
        Assert.Equal(3, await gateway.MetricAsync("auth_logins_failed_total", "stomp"));
        Assert.DoesNotContain("wrong-guess", gateway.Output);
    }

    [Fact]
    public async Task The_password_file_is_read_again_when_it_changes_a_user_added_gets_in_and_one_deleted_is_refused()
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users);
        await gateway.StartAsync();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, "bob", "bobs-password"));

        users.Add("bob", "bobs-password");
        await Poll.UntilAsync(async () => await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, "bob", "bobs-password") == MqttClientConnectResultCode.Success,
            Patience.Reaction, "bob, added while the gateway runs, to get in");
        Assert.StartsWith("CONNECTED\n", await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, "bob", "bobs-password"));

        users.Delete("bob");
        await Poll.UntilAsync(async () => await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, "bob", "bobs-password") == MqttClientConnectResultCode.BadUserNameOrPassword,
            Patience.Reaction, "bob, deleted, to be refused (a remembered success must not outlive the user)");
        Assert.Equal(MqttClientConnectResultCode.Success, await LoginProbe.MqttAsync("127.0.0.1", gateway.MqttPort, MqttProtocolVersion.V500, "alice", AlicePassword));
        Assert.Contains("Read the password file (Gateway:Auth:PasswordFile)", gateway.Output);
    }

    [Fact]
    public async Task After_the_allowed_failures_from_one_address_even_the_right_password_is_held_back_for_a_while_on_every_protocol()
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users, ("Gateway__Auth__FailedLoginsAllowed", "3"), ("Gateway__Auth__FailedLoginBackoff", "00:00:04"));
        await gateway.StartAsync();
        var port = gateway.MqttPort;

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", port, MqttProtocolVersion.V500, "alice", "guess-1"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, await LoginProbe.MqttAsync("127.0.0.1", port, MqttProtocolVersion.V311, "alice", "guess-2"));
        var lastGuess = Stopwatch.StartNew();
        Assert.Contains("authentication failed", LoginProbe.Header(await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, "alice", "guess-3"), "message")); // the third, by another protocol

        // Held back: the right password is refused without being looked at, on MQTT 5 (0x9F), 3.1.1 (0x03), STOMP and HTTP.
        Assert.Equal(MqttClientConnectResultCode.ConnectionRateExceeded, await LoginProbe.MqttAsync("127.0.0.1", port, MqttProtocolVersion.V500, "alice", AlicePassword));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, await LoginProbe.MqttAsync("127.0.0.1", port, MqttProtocolVersion.V311, "alice", AlicePassword));
        Assert.Contains("too many failed logins from 127.0.0.1", LoginProbe.Header(await LoginProbe.StompTcpAsync("127.0.0.1", gateway.StompPort, "alice", AlicePassword), "message"));
        using var http = new HttpClient();
        var page = await http.SendAsync(WithBasic($"http://127.0.0.1:{gateway.HttpPort}/", "alice", AlicePassword));
        Assert.Equal(HttpStatusCode.TooManyRequests, page.StatusCode);
        Assert.NotNull(page.Headers.RetryAfter);
        Assert.Equal(2, await gateway.MetricAsync("auth_logins_held_back_total", "mqtt"));
        Assert.Equal(1, await gateway.MetricAsync("auth_logins_held_back_total", "stomp"));

        // Then, once the back-off has run out, the right password gets in, and not before it.
        await Poll.UntilAsync(async () => await LoginProbe.MqttAsync("127.0.0.1", port, MqttProtocolVersion.V500, "alice", AlicePassword) == MqttClientConnectResultCode.Success,
            Patience.Reaction, "the right password to get in after the back-off");
        Assert.True(lastGuess.Elapsed >= TimeSpan.FromSeconds(4), $"got in {lastGuess.Elapsed.TotalSeconds:0.0} s after the third failure, within the 4 s back-off");
    }

    [Fact]
    public async Task With_users_the_page_asks_for_one_by_HTTP_Basic_while_the_probes_stay_open()
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users);
        await gateway.StartAsync();
        var root = $"http://127.0.0.1:{gateway.HttpPort}";
        using var http = new HttpClient();

        var anonymous = await http.GetAsync(root + "/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", Assert.Single(anonymous.Headers.WwwAuthenticate).Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(root + "/app.js")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(WithBasic(root + "/", "alice", "wrong-guess"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(WithBasic(root + "/", "mallory", "wrong-guess"))).StatusCode);
        var page = await http.SendAsync(WithBasic(root + "/", "alice", AlicePassword));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(root + "/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(root + "/metrics")).StatusCode);
        Assert.Equal(2, await gateway.MetricAsync("auth_logins_failed_total", "http"));
        Assert.DoesNotContain("wrong-guess", gateway.Output);
    }

    [Fact]
    public async Task ProtectMetrics_puts_metrics_behind_a_user_too()
    {
        using var users = new Users(("alice", AlicePassword));
        await using var gateway = Gateway(users, ("Gateway__Auth__ProtectMetrics", "true"));
        await gateway.StartAsync();
        var root = $"http://127.0.0.1:{gateway.HttpPort}";
        using var http = new HttpClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(root + "/metrics")).StatusCode);
        var metrics = await http.SendAsync(WithBasic(root + "/metrics", "alice", AlicePassword));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("gateway_auth_users 1", await metrics.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(root + "/healthz")).StatusCode);
    }

    internal static HttpRequestMessage WithBasic(string url, string user, string password) => new(HttpMethod.Get, url)
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"))) },
    };
}
