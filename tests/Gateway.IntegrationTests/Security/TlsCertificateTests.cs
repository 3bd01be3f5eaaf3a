using System.Net.Sockets;
using Xunit.Abstractions;

namespace Gateway.IntegrationTests.Security;

/// <summary>The certificate's life in the real gateway: renewal, a half-written renewal, encrypted keys, TLS versions, silent clients, plain listeners off.</summary>
public sealed class TlsCertificateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_renewed_pair_is_presented_to_new_connections_and_open_ones_go_on_while_a_half_renewal_keeps_the_old_pair()
    {
        await using var tls = await TlsGateway.StartAsync();
        int[] ports = [tls.MqttTlsPort, tls.HttpsPort, tls.StompTlsPort];
        foreach (var port in ports) Assert.Equal(tls.Server.Serial, (await TlsGateway.PresentedCertificateAsync(port)).SerialNumber);
        await using var open = await tls.ConnectMqttAsync("open-across-renewal");
        var renewed = await tls.Certificates.IssueServerAsync();

        // Half a renewal: the new certificate is written, its key not yet.
        File.Copy(renewed.CertificateFile, tls.CertificateFile, overwrite: true);
        await Poll.UntilAsync(() => Task.FromResult(tls.Gateway.Output.Contains("[521] Kept the TLS certificate in force", StringComparison.Ordinal)),
            Patience.Reaction, "the gateway to refuse the new certificate with the old key");
        foreach (var port in ports) Assert.Equal(tls.Server.Serial, (await TlsGateway.PresentedCertificateAsync(port)).SerialNumber);

        File.Copy(renewed.KeyFile, tls.KeyFile, overwrite: true);
        await Poll.UntilAsync(async () => (await TlsGateway.PresentedCertificateAsync(tls.MqttTlsPort)).SerialNumber == renewed.Serial,
            Patience.Reaction, "a new MQTT connection to be given the renewed certificate");
        foreach (var port in ports) Assert.Equal(renewed.Thumbprint, (await TlsGateway.PresentedCertificateAsync(port)).Thumbprint);

        var ack = await open.PublishAsync("tls/renewal", "still here");
        Assert.True(ack.IsSuccess, ack.ReasonString);
        await using var fresh = await tls.ConnectMqttAsync("after-renewal");
        Assert.True((await fresh.PublishAsync("tls/renewal", "new")).IsSuccess);
    }

    [Fact]
    public async Task Tls_1_0_and_1_1_are_refused_with_a_protocol_version_alert_where_tls_1_2_gets_a_server_hello()
    {
        await using var tls = await TlsGateway.StartAsync();
        foreach (var port in new[] { tls.MqttTlsPort, tls.HttpsPort, tls.StompTlsPort })
        {
            var modern = await TlsClientHello.OfferAsync(port, TlsClientHello.Tls12);
            Assert.True(modern.IsServerHello, $"port {port}, TLS 1.2 offered: {modern}");
            foreach (var old in new[] { TlsClientHello.Tls10, TlsClientHello.Tls11 })
            {
                var answer = await TlsClientHello.OfferAsync(port, old);
                output.WriteLine($"port {port}, version {old:x4}: {answer}");
                Assert.True(answer.IsProtocolVersionAlert, $"port {port}, version {old:x4} offered: {answer}");
            }
        }
    }

    [Fact]
    public async Task A_client_that_never_speaks_tls_is_closed_after_the_handshake_timeout_without_holding_up_others()
    {
        await using var tls = await TlsGateway.StartAsync(new() { ["Gateway__Tls__HandshakeTimeout"] = "00:00:01" });
        var silent = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", tls.MqttTlsPort);
                silent.Add(tcp);
            }
            // Accepted and handshaking on their own tasks: a TLS client gets in at once, while they wait.
            await using (var client = await tls.ConnectMqttAsync("beside-silent-ones")) Assert.True((await client.PublishAsync("tls/busy", "x")).IsSuccess);

            foreach (var tcp in silent)
            {
                using var deadline = new CancellationTokenSource(Patience.Reaction);
                var read = await tcp.GetStream().ReadAsync(new byte[16], deadline.Token);
                Assert.Equal(0, read); // closed by the gateway, not by us, within the deadline
            }
            await Poll.UntilAsync(async () => await tls.Gateway.MetricAsync("tls_handshake_failures_total", "mqtt") >= 20, Patience.Reaction,
                "the 20 timed-out handshakes to be counted");
        }
        finally
        {
            foreach (var tcp in silent) tcp.Dispose();
        }
    }

    [Fact]
    public async Task Plain_listeners_set_to_port_0_do_not_listen_while_their_tls_ones_serve()
    {
        await using var tls = await TlsGateway.StartAsync(new()
        {
            ["Gateway__Mqtt__Port"] = "0",
            ["Gateway__Http__Port"] = "0",
            ["Gateway__Stomp__Port"] = "0",
        });

        foreach (var port in new[] { tls.Gateway.MqttPort, tls.Gateway.HttpPort, tls.Gateway.StompPort })
            Assert.False(await FreePort.AcceptsAsync(port), $"port {port} accepts connections");
        Assert.DoesNotContain("[200] MQTT listening", tls.Gateway.Output);
        Assert.DoesNotContain("Now listening on: http://", tls.Gateway.Output);
        await using var client = await tls.ConnectMqttAsync("tls-only");
        Assert.True((await client.PublishAsync("tls/only", "x")).IsSuccess);
        Assert.Equal(tls.Server.Thumbprint, (await TlsGateway.PresentedCertificateAsync(tls.HttpsPort)).Thumbprint);
    }

    [Fact]
    public async Task An_encrypted_key_is_read_with_the_passphrase_from_a_file_which_is_never_logged()
    {
        const string passphrase = "correct horse 7";
        await using var tls = await TlsGateway.StartAsync(keyFile: async (certificates, server, settings) =>
        {
            var passphraseFile = Path.Combine(certificates.Folder, "passphrase");
            await File.WriteAllTextAsync(passphraseFile, passphrase + "\n");
            settings["Gateway__Tls__KeyPassphraseFile"] = passphraseFile;
            return await certificates.EncryptKeyAsync(server, passphrase);
        });

        Assert.Contains("ENCRYPTED PRIVATE KEY", await File.ReadAllTextAsync(tls.KeyFile));
        Assert.Equal(tls.Server.Thumbprint, (await TlsGateway.PresentedCertificateAsync(tls.MqttTlsPort)).Thumbprint);
        Assert.DoesNotContain(passphrase, tls.Gateway.Output);
    }

    [Theory]
    [InlineData("mismatched", "the key does not match the certificate")]
    [InlineData("wrong passphrase", "the key could not be read with the passphrase given")]
    public async Task A_certificate_that_cannot_be_used_stops_the_start_with_one_line_and_exit_code_2(string problem, string expected)
    {
        var certificates = await OpenSslCertificates.CreateAsync();
        var server = await certificates.IssueServerAsync();
        var other = await certificates.IssueServerAsync();
        var settings = new Dictionary<string, string>
        {
            ["Gateway__DataPath"] = certificates.Folder,
            ["Gateway__Mqtt__Port"] = FreePort.Next().ToString(),
            ["Gateway__Http__Port"] = FreePort.Next().ToString(),
            ["Gateway__Stomp__Port"] = "0",
            ["Gateway__Tls__CertificateFile"] = server.CertificateFile,
            ["Gateway__Tls__KeyFile"] = problem == "mismatched" ? other.KeyFile : await certificates.EncryptKeyAsync(server, "right one"),
        };
        if (problem == "wrong passphrase") settings["Gateway__Tls__KeyPassphrase"] = "wrong one";

        var (exit, text) = await ChildProcesses.RunAsync("dotnet", [GatewayProcess.GatewayDll], settings, Patience.Startup);
        output.WriteLine(text);
        Assert.Equal(2, exit);
        var line = Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("gateway: configuration error: Gateway:Tls:CertificateFile", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("wrong one", line);
        Directory.Delete(certificates.Folder, recursive: true);
    }
}
