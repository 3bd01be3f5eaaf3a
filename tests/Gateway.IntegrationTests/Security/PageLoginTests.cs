using Gateway.IntegrationTests.Browser;

namespace Gateway.IntegrationTests.Security;

/// <summary>The example page on a gateway with users, in real Chromium (tests/browser/page-login.mjs): HTTP Basic for the page, its own login form for its STOMP CONNECT.</summary>
public sealed class PageLoginTests
{
    [Fact]
    public async Task With_users_the_page_asks_for_a_login_and_connects_with_it()
    {
        using var users = new Users(("alice", "page-password"));
        await using var gateway = new GatewayProcess(new Dictionary<string, string>
        {
            ["Gateway__Auth__PasswordFile"] = users.File,
            ["Gateway__Auth__FailedLoginsAllowed"] = "1000",
        });
        await gateway.StartAsync();

        var result = await NodeScript.RunAsync("page-login.mjs", new Dictionary<string, string>
        {
            ["GATEWAY_HTTP"] = $"http://127.0.0.1:{gateway.HttpPort}",
            ["GATEWAY_MQTT"] = $"mqtt://127.0.0.1:{gateway.MqttPort}",
            ["PAGE_USER"] = "alice",
            ["PAGE_PASSWORD"] = "page-password",
        }, Patience.Delivery);

        Assert.True(result.ExitCode == 0, $"the script failed ({result.ExitCode}):\n{result.Output}\n--- gateway:\n{gateway.Output}");
        Assert.Equal(1, await gateway.MetricAsync("auth_logins_failed_total", "stomp")); // the wrong password typed in the form
        Assert.True(await gateway.MetricAsync("auth_logins_total", "stomp") >= 1, "no STOMP login succeeded");
    }
}
