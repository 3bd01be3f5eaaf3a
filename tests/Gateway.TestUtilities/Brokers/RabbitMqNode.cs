using RabbitMQ.Client;

namespace Gateway.TestUtilities;

/// <summary>
/// A private RabbitMQ node (Debian's rabbitmq-server) on free loopback ports with its own data
/// folder, as in shared/brokers.md. It can be stopped and started again on the same data and ports,
/// to stand for an upstream outage, and never touches the system node.
/// </summary>
public sealed class RabbitMqNode : IAsyncDisposable
{
    private readonly string _folder;
    private readonly Dictionary<string, string> _environment;

    private RabbitMqNode(string folder, string nodeName, int amqpPort, int distPort)
    {
        _folder = folder;
        NodeName = nodeName;
        AmqpPort = amqpPort;
        _environment = new Dictionary<string, string>
        {
            ["RABBITMQ_NODENAME"] = nodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = amqpPort.ToString(),
            ["RABBITMQ_DIST_PORT"] = distPort.ToString(),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(folder, "log"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(folder, "enabled_plugins"),
            ["RABBITMQ_FEATURE_FLAGS_FILE"] = Path.Combine(folder, "feature_flags"),
        };
    }

    public string NodeName { get; }
    public int AmqpPort { get; }
    public string AmqpUri => $"amqp://guest:guest@127.0.0.1:{AmqpPort}/";

    /// <summary>With <c>tls</c>: the AMQPS port, and the certificates the listener uses.</summary>
    public int? AmqpsPort { get; private set; }
    public TestCertificates? Certificates { get; private set; }
    public string AmqpsUri => $"amqps://guest:guest@127.0.0.1:{AmqpsPort}/";

    public static async Task<RabbitMqNode> StartAsync(bool tls = false)
    {
        var folder = Directory.CreateTempSubdirectory("rabbit-node-").FullName;
        // mktemp's 0700 would lock the rabbitmq user out of its own folders.
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                     UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Directory.CreateDirectory(Path.Combine(folder, "mnesia"));
        Directory.CreateDirectory(Path.Combine(folder, "log"));
        await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].");
        await Must(ChildProcesses.RunAsync("chown", ["-R", "rabbitmq:rabbitmq", folder]), "chown the node folder");

        var node = new RabbitMqNode(folder, $"gwtest-{Guid.NewGuid().ToString("N")[..8]}@localhost", FreePort.Next(), FreePort.Next());
        if (tls)
        {
            var certificates = TestCertificates.Create(folder);
            node.Certificates = certificates;
            node.AmqpsPort = FreePort.Next();
            // guest may log in over loopback only; TLS here is loopback too. No client certificates.
            node._environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] =
                $"-rabbit ssl_listeners [{{\"127.0.0.1\",{node.AmqpsPort}}}] " +
                $"-rabbit ssl_options [{{cacertfile,\"{certificates.CaPemFile}\"}},{{certfile,\"{certificates.ServerCertPemFile}\"}},{{keyfile,\"{certificates.ServerKeyPemFile}\"}},{{verify,verify_none}},{{fail_if_no_peer_cert,false}}]";
            await Must(ChildProcesses.RunAsync("chown", ["-R", "rabbitmq:rabbitmq", folder]), "chown the certificates");
        }
        await node.StartAgainAsync();
        return node;
    }

    /// <summary>Starts the node (again) on the same folder and ports, and waits until AMQP accepts a connection.</summary>
    public async Task StartAgainAsync()
    {
        // epmd started by us, detached, before the node: otherwise the node's own epmd inherits our stdio.
        await ChildProcesses.RunAsync("/bin/sh", ["-c", "epmd -daemon > /dev/null 2>&1 < /dev/null"]);
        ChildProcesses.StartDetached("rabbitmq-server", Path.Combine(_folder, "out.log"), _environment);
        try
        {
            await Poll.UntilAsync(CanConnectAsync, Patience.Startup, $"RabbitMQ node {NodeName} on port {AmqpPort}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; its log:\n{LogTail()}", ex);
        }
    }

    /// <summary>Stops the node gracefully and waits until nothing listens on its port.</summary>
    public async Task StopAsync()
    {
        await ChildProcesses.RunAsync("rabbitmqctl", ["-n", NodeName, "stop"], _environment, TimeSpan.FromSeconds(60));
        await KillLeftoversAsync();
        await Poll.UntilAsync(async () => !await FreePort.AcceptsAsync(AmqpPort), TimeSpan.FromSeconds(30), $"node {NodeName} to release port {AmqpPort}");
    }

    /// <summary>SIGKILLs the node's Erlang VM, as a crashed host would lose it, and waits until its port is closed.</summary>
    public async Task KillAsync()
    {
        await SignalVmAsync("KILL");
        await Poll.UntilAsync(async () => !await FreePort.AcceptsAsync(AmqpPort), TimeSpan.FromSeconds(30), $"killed node {NodeName} to release port {AmqpPort}");
    }

    /// <summary>Runs <c>rabbitmqctl</c> (or another of the node's tools, e.g. <c>rabbitmq-diagnostics</c>) against this node.</summary>
    public Task<(int ExitCode, string Output)> ControlAsync(string tool, params string[] args) =>
        ChildProcesses.RunAsync(tool, ["-n", NodeName, .. args], _environment, TimeSpan.FromSeconds(60));

    /// <summary>
    /// SIGSTOPs the node's Erlang VM: its sockets stay open and the kernel still takes bytes, but the
    /// broker answers nothing (no confirms, no heartbeats), as a hung host or VM does. Thaw (or
    /// dispose) afterwards, also when the test fails.
    /// </summary>
    public Task FreezeAsync() => SignalVmAsync("STOP");

    public Task ThawAsync() => SignalVmAsync("CONT");

    private async Task SignalVmAsync(string signal)
    {
        var vm = ErlangVmProcessIds();
        if (vm.Count == 0) throw new InvalidOperationException($"no Erlang VM found for node {NodeName}");
        await Must(ChildProcesses.RunAsync("kill", [$"-{signal}", .. vm]), $"send SIG{signal} to node {NodeName}");
    }

    /// <summary>The node's beam.smp: its command line does not name the node, its environment does.</summary>
    private List<string> ErlangVmProcessIds()
    {
        var wanted = $"RABBITMQ_NODENAME={NodeName}\0";
        var found = new List<string>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(folder, "comm")).Trim() != "beam.smp") continue;
                if (File.ReadAllText(Path.Combine(folder, "environ")).Contains(wanted, StringComparison.Ordinal)) found.Add(Path.GetFileName(folder));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // not a process, or gone meanwhile
            }
        }
        return found;
    }

    /// <summary>Messages ready in <paramref name="queue"/>.</summary>
    public async Task<uint> CountAsync(string queue)
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    public async Task<IConnection> ConnectAsync() =>
        await new ConnectionFactory { Uri = new Uri(AmqpUri) }.CreateConnectionAsync();

    /// <summary>A durable queue bound to <paramref name="exchange"/> with <paramref name="bindingKey"/>.</summary>
    public async Task DeclareQueueBoundAsync(string queue, string exchange, string bindingKey)
    {
        await using var connection = await ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, exchange, bindingKey);
    }

    private async Task<bool> CanConnectAsync()
    {
        if (!await FreePort.AcceptsAsync(AmqpPort)) return false;
        try
        {
            await using var connection = await ConnectAsync();
            return connection.IsOpen;
        }
        catch (RabbitMQ.Client.Exceptions.BrokerUnreachableException)
        {
            return false;
        }
    }

    private async Task KillLeftoversAsync() =>
        await ChildProcesses.RunAsync("pkill", ["-KILL", "-f", NodeName.Split('@')[0]]);

    private string LogTail()
    {
        var lines = new List<string>();
        foreach (var file in new[] { Path.Combine(_folder, "out.log") }.Concat(Directory.Exists(Path.Combine(_folder, "log")) ? Directory.GetFiles(Path.Combine(_folder, "log")) : []))
        {
            if (File.Exists(file)) lines.AddRange(File.ReadLines(file).TakeLast(15).Select(l => $"{Path.GetFileName(file)}: {l}"));
        }
        return string.Join('\n', lines);
    }

    private static async Task Must(Task<(int ExitCode, string Output)> run, string what)
    {
        var (code, output) = await run;
        if (code != 0) throw new InvalidOperationException($"could not {what}: {output}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ThawAsync(); // a frozen node would not answer the stop
        }
        catch (InvalidOperationException)
        {
            // not running
        }
        try
        {
            await ChildProcesses.RunAsync("rabbitmqctl", ["-n", NodeName, "stop"], _environment, TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            // killed below
        }
        await KillLeftoversAsync();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
