using System.Diagnostics;
using Gateway.IntegrationTests.GatewayUnderTest;

namespace Gateway.IntegrationTests.Security;

/// <summary>
/// Upstream passwords from a file, an environment variable or a systemd credential reach the broker
/// and nothing else: not the log, /healthz, /metrics or the page; and a file the service user cannot
/// read stops the start with one line naming it, not a stack trace.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UpstreamSecretTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("gateway-secrets-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static string Secret(string kind) => $"{kind}-S3cr3t-{Guid.NewGuid():N}";

    [Fact]
    public async Task An_upstream_password_reaches_the_broker_and_never_the_log_health_metrics_or_page_when_the_login_fails()
    {
        await using var broker = new RefusingStompBroker();
        var (fromFile, fromEnvironment, fromCredential) = (Secret("file"), Secret("env"), Secret("credential"));
        var file = Path.Combine(_folder.FullName, "cloud-password");
        await File.WriteAllTextAsync(file, fromFile + "\n");
        var credentials = _folder.CreateSubdirectory("credentials");
        await File.WriteAllTextAsync(Path.Combine(credentials.FullName, "cloud3"), fromCredential);

        await using var gateway = new GatewayProcess(new GatewaySettings()
            .Upstream("one", broker.Uri).Set("Gateway__Upstreams__one__Kind", "ActiveMq").Set("Gateway__Upstreams__one__UserName", "gw")
            .Set("Gateway__Upstreams__one__PasswordFile", file)
            .Upstream("two", broker.Uri).Set("Gateway__Upstreams__two__Kind", "ActiveMq").Set("Gateway__Upstreams__two__UserName", "gw")
            .Set("Gateway__Upstreams__two__Password", fromEnvironment)
            .Upstream("three", broker.Uri).Set("Gateway__Upstreams__three__Kind", "ActiveMq").Set("Gateway__Upstreams__three__UserName", "gw")
            .Set("Gateway__Upstreams__three__PasswordCredential", "cloud3").Set("CREDENTIALS_DIRECTORY", credentials.FullName)
            .Route("plant/#", "one").Route("plant/#", "two").Route("plant/#", "three").Build());
        gateway.ExpectErrors(".*"); // the failing links are the point; the lines are searched below
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
        await device.PublishSequenceAsync("plant/dev/temp", "dev", 1);

        await Poll.UntilAsync(() => new[] { fromFile, fromEnvironment, fromCredential }.All(broker.Passcodes.Contains) && broker.Passcodes.Count >= 6,
            Patience.Reaction, "each upstream to have tried its password twice");
        await Poll.UntilAsync(() => gateway.Output.Split('\n').Count(l => l.Contains("failed") && l.Contains("invalid")) >= 3, Patience.Reaction, "the refusals to be logged");

        var seen = gateway.Output + await gateway.GetAsync("/healthz") + await gateway.GetAsync("/metrics") + await gateway.GetAsync("/") + await gateway.GetAsync("/app.js");
        foreach (var secret in new[] { fromFile, fromEnvironment, fromCredential })
            Assert.DoesNotContain(secret, seen, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cr3t", seen, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Gateway__Upstreams__cloud__PasswordFile", "Gateway:Upstreams:cloud:PasswordFile")]
    [InlineData("Gateway__Auth__PasswordFile", "the password file (Gateway:Auth:PasswordFile)")]
    public async Task A_secret_file_the_service_user_cannot_read_stops_the_start_with_one_line_naming_it_and_exit_2(string key, string named)
    {
        // As the systemd unit runs it: a user that is not root, against a root-owned 0600 file.
        File.SetUnixFileMode(_folder.FullName, (UnixFileMode)0b111_101_101);
        var secret = Path.Combine(_folder.FullName, "root-only");
        await File.WriteAllTextAsync(secret, key.Contains("Auth") ? "" : Secret("root") + "\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var data = _folder.CreateSubdirectory("data");
        await ChildProcesses.RunAsync("chown", ["nobody", data.FullName]);

        var start = new ProcessStartInfo("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "dotnet", GatewayProcess.GatewayDll])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = data.FullName,
        };
        start.Environment["HOME"] = data.FullName;
        start.Environment["Gateway__Id"] = "secrets";
        start.Environment["Gateway__DataPath"] = data.FullName;
        start.Environment["Gateway__Mqtt__Port"] = FreePort.Next().ToString();
        start.Environment["Gateway__Http__Port"] = FreePort.Next().ToString();
        start.Environment["Gateway__Stomp__Port"] = "0";
        start.Environment["Gateway__Upstreams__cloud__Endpoints__0"] = "amqp://127.0.0.1:1/";
        start.Environment["Gateway__Routes__0__Filter"] = "plant/#";
        start.Environment["Gateway__Routes__0__Upstream"] = "cloud";
        start.Environment[key] = secret;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Patience.Startup);
        await process.WaitForExitAsync(deadline.Token);

        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(process.ExitCode == 2, $"exit {process.ExitCode}; stderr:\n{await stderr}\nstdout:\n{await stdout}");
        var line = Assert.Single(lines);
        Assert.StartsWith("gateway: configuration error: ", line);
        Assert.Contains(named, line);
        Assert.Contains(secret, line);
        Assert.Contains("nobody", line);
        Assert.DoesNotContain("   at ", await stdout + await stderr);
    }
}
