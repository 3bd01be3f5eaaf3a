namespace Gateway.TestUtilities;

/// <summary>
/// Debian's <c>haproxy</c> as the load balancer in front of a broker cluster: one loopback port,
/// round robin over the nodes, each node health-checked with the start of an AMQP handshake, so a node
/// that is down or still booting gets no new connections (what Amazon MQ's cluster endpoint does).
/// </summary>
public sealed class HaProxy : IAsyncDisposable
{
    private readonly string _folder;

    private HaProxy(string folder, int port)
    {
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    private string PidFile => Path.Combine(_folder, "haproxy.pid");

    /// <summary>Starts HAProxy over <paramref name="backendPorts"/> and waits until its port accepts connections.</summary>
    public static async Task<HaProxy> StartAsync(IReadOnlyList<int> backendPorts)
    {
        var proxy = new HaProxy(Directory.CreateTempSubdirectory("haproxy-").FullName, FreePort.Next());
        var config = Path.Combine(proxy._folder, "haproxy.cfg");
        await File.WriteAllTextAsync(config, proxy.Configuration(backendPorts));
        var (code, output) = await ChildProcesses.RunAsync("haproxy", ["-D", "-p", proxy.PidFile, "-f", config]);
        if (code != 0) throw new InvalidOperationException($"haproxy did not start: {output}");
        await Poll.UntilAsync(() => FreePort.AcceptsAsync(proxy.Port), Patience.Startup, $"haproxy on port {proxy.Port}");
        return proxy;
    }

    /// <remarks>
    /// The check sends AMQP's protocol header and expects the broker's connection.start frame (type 1,
    /// channel 0): an open port alone would pass a node whose listener is up but not its broker.
    /// <c>redispatch</c> and <c>retries</c>: a connection sent to a node that died since its last check
    /// is tried on another one instead of failing, as a client expects of one endpoint.
    /// </remarks>
    private string Configuration(IReadOnlyList<int> backendPorts)
    {
        var servers = string.Join('\n', backendPorts.Select((port, i) =>
            $"  server node{i + 1} 127.0.0.1:{port} check inter 500ms fall 2 rise 2"));
        return $"""
            global
              maxconn 1000
            defaults
              mode tcp
              timeout connect 2s
              timeout client 60s
              timeout server 60s
              retries 3
              option redispatch
            listen amqp
              bind 127.0.0.1:{Port}
              balance roundrobin
              option tcp-check
              tcp-check send-binary 414d515000000901
              tcp-check expect binary 010000
            {servers}

            """;
    }

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(PidFile))
        {
            var pid = (await File.ReadAllTextAsync(PidFile)).Trim();
            if (pid.Length > 0) await ChildProcesses.RunAsync("kill", ["-TERM", pid]);
        }
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
