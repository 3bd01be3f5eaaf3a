using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Gateway.IntegrationTests.Browser;
using MQTTnet;
using MQTTnet.Formatter;

namespace Gateway.IntegrationTests.Security;

/// <summary>One login attempt with each kind of client the security tests use, reporting what the gateway answered.</summary>
internal static class LoginProbe
{
    /// <summary>
    /// An IPv4 address of this machine that is not loopback, for showing that the network is treated
    /// as the network. Fails the test (rather than passing it vacuously) on a machine with none.
    /// </summary>
    public static IPAddress NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
        ?? throw new Xunit.Sdk.XunitException("this machine has no non-loopback IPv4 address: the loopback-only default cannot be shown here (the test cannot pass without one)");

    /// <summary>MQTTnet's client over TCP (or WebSocket to <c>/mqtt</c> when <paramref name="webSocketPort"/> is set): the CONNACK's result code.</summary>
    public static async Task<MqttClientConnectResultCode> MqttAsync(string host, int port, MqttProtocolVersion version,
        string? user = null, string? password = null, int? webSocketPort = null)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithClientId("probe-" + Guid.NewGuid().ToString("N")[..8])
            .WithProtocolVersion(version)
            .WithTimeout(Patience.Reaction);
        if (webSocketPort is { } ws) options.WithWebSocketServer(o => o.WithUri($"ws://{host}:{ws}/mqtt"));
        else options.WithTcpServer(host, port);
        if (user is not null) options.WithCredentials(user, password);
        // MQTTnet 5 returns a refusing CONNACK's code rather than throwing.
        var result = await client.ConnectAsync(options.Build());
        if (client.IsConnected) await client.DisconnectAsync();
        return result.ResultCode;
    }

    /// <summary>Debian's mosquitto_pub publishing one QoS 1 message: its exit code (0 sent; 4 bad user name or password; 5 not authorised, for 3.1.1) and output.</summary>
    public static Task<(int ExitCode, string Output)> MosquittoPubAsync(string host, int port, string? user = null, string? password = null, bool v5 = false)
    {
        if (!File.Exists("/usr/bin/mosquitto_pub")) throw new InvalidOperationException("mosquitto_pub is missing: install mosquitto-clients (./test.sh does)");
        List<string> args = ["-h", host, "-p", port.ToString(), "-t", "security/probe", "-m", "hello", "-q", "1", "-i", "mp-" + Guid.NewGuid().ToString("N")[..8]];
        if (v5) args.AddRange(["-V", "mqttv5"]);
        if (user is not null) args.AddRange(["-u", user]);
        if (password is not null) args.AddRange(["-P", password]);
        return ChildProcesses.RunAsync("mosquitto_pub", args, timeout: Patience.Reaction);
    }

    /// <summary>A CONNECT over STOMP's TCP port: the first frame back, command and headers ("CONNECTED\n..." or "ERROR\n...").</summary>
    public static async Task<string> StompTcpAsync(string host, int port, string? login = null, string? passcode = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(host, port);
        var stream = tcp.GetStream();
        var connect = new StringBuilder("CONNECT\naccept-version:1.2\nhost:gateway\n");
        if (login is not null) connect.Append("login:").Append(login).Append('\n');
        if (passcode is not null) connect.Append("passcode:").Append(passcode).Append('\n');
        connect.Append('\n').Append('\0');
        await stream.WriteAsync(Encoding.UTF8.GetBytes(connect.ToString()));
        using var deadline = new CancellationTokenSource(Patience.Reaction);
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (!received.Contains(0))
        {
            var n = await stream.ReadAsync(buffer, deadline.Token);
            if (n == 0) break;
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        var text = Encoding.UTF8.GetString(received.ToArray());
        return text.Contains('\0') ? text[..text.IndexOf('\0')] : text;
    }

    /// <summary>@stomp/stompjs over WebSocket (tests/browser/stomp-login.mjs): "CONNECTED", "ERROR &lt;message&gt;" or "CLOSED &lt;code&gt;".</summary>
    public static async Task<string> StompJsAsync(string host, int httpPort, string? login = null, string? passcode = null)
    {
        var environment = new Dictionary<string, string> { ["STOMP_URL"] = $"ws://{host}:{httpPort}/stomp" };
        if (login is not null) environment["STOMP_LOGIN"] = login;
        if (passcode is not null) environment["STOMP_PASSCODE"] = passcode;
        var result = await NodeScript.RunAsync("stomp-login.mjs", environment, Patience.Reaction);
        // An ERROR before CONNECTED is escaped as STOMP 1.2 (':' as \c); stompjs, not yet knowing the version, leaves it so.
        return result.Line("OUTCOME").Replace("\\c", ":", StringComparison.Ordinal);
    }

    /// <summary>The header's value in a frame as <see cref="StompTcpAsync"/> returns it.</summary>
    public static string? Header(string frame, string name) =>
        frame.Split('\n').FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal))?[(name.Length + 1)..]
            .Replace("\\c", ":", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal); // STOMP 1.2 header escapes
}
