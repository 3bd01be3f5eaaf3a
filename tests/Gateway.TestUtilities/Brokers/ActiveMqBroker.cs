using System.Diagnostics;
using System.Net.Sockets;
using Gateway.Stomp;

namespace Gateway.TestUtilities;

/// <summary>
/// A private ActiveMQ Classic instance (Debian's activemq) with STOMP on a free loopback port, its own
/// configuration and KahaDB folder, and optionally a <c>stomp+ssl</c> connector with a test
/// certificate. Stopping and starting it again keeps its persistent messages, as an outage would.
/// Two brokers on one shared store folder form an active/standby pair (see <see cref="LaunchOnSharedStore"/>).
/// </summary>
public sealed class ActiveMqBroker : IAsyncDisposable
{
    private readonly string _folder;
    private readonly string? _sharedStore;
    private Process? _process;

    private ActiveMqBroker(string folder, TestCertificates? certificates, string? sharedStore = null)
    {
        _folder = folder;
        _sharedStore = sharedStore;
        StompPort = FreePort.Next();
        OpenWirePort = FreePort.Next();
        if (certificates is not null)
        {
            Certificates = certificates;
            StompSslPort = FreePort.Next();
        }
    }

    public int StompPort { get; }
    public int OpenWirePort { get; }
    public int? StompSslPort { get; }
    public TestCertificates? Certificates { get; }
    public string StompUri => $"stomp://127.0.0.1:{StompPort}";
    public string StompSslUri => $"stomp+ssl://127.0.0.1:{StompSslPort}";

    public static async Task<ActiveMqBroker> StartAsync(bool tls = false)
    {
        var folder = Directory.CreateTempSubdirectory("activemq-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "conf"));
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        var broker = new ActiveMqBroker(folder, tls ? TestCertificates.Create(folder) : null);
        broker.WriteConfiguration();
        await broker.StartAgainAsync();
        return broker;
    }

    /// <summary>
    /// Starts a broker whose KahaDB lives in <paramref name="sharedStore"/>, as Amazon MQ's active/standby
    /// pair shares its storage: the first to take the store's file lock opens its transports, another
    /// waits on the lock with its transports closed. Does not wait: see <see cref="WaitUntilOpenAsync"/>.
    /// </summary>
    public static ActiveMqBroker LaunchOnSharedStore(string sharedStore)
    {
        var folder = Directory.CreateTempSubdirectory("activemq-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "conf"));
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        var broker = new ActiveMqBroker(folder, certificates: null, sharedStore);
        broker.WriteConfiguration();
        broker.Launch();
        return broker;
    }

    /// <summary>Whether the broker logged that it waits on the store's lock (the standby of a pair).</summary>
    public bool WaitsOnLock => File.Exists(LogFile) && ReadLog().Contains("is locked by another server", StringComparison.Ordinal);

    /// <summary>Until a STOMP CONNECT is answered (a standby: once it took the store's lock and opened).</summary>
    public async Task WaitUntilOpenAsync(TimeSpan within)
    {
        try
        {
            await Poll.UntilAsync(async () =>
            {
                if (_process is not { HasExited: false }) throw new InvalidOperationException($"ActiveMQ is not running:\n{LogTail()}");
                return await AnswersConnectAsync();
            }, within, $"ActiveMQ STOMP on port {StompPort}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; its log:\n{LogTail()}", ex);
        }
    }

    /// <summary>Whether the broker answers a STOMP CONNECT now.</summary>
    public Task<bool> IsOpenAsync() => AnswersConnectAsync();

    /// <summary>SIGKILL: no shutdown hook runs and the store's lock goes with the process, as when a host dies.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process) return;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>Its own KahaDB, or the pair's shared one, which the standby polls every second for the lock.</summary>
    private string Persistence() => _sharedStore is null
        ? $"""<kahaDB directory="{_folder}/data/kahadb"/>"""
        : $"""<kahaDB directory="{_sharedStore}/kahadb" lockKeepAlivePeriod="2000"><locker><shared-file-locker lockAcquireSleepInterval="1000"/></locker></kahaDB>""";

    private void WriteConfiguration()
    {
        File.Copy("/etc/activemq/instances-available/main/log4j2.properties", Path.Combine(_folder, "conf", "log4j2.properties"), overwrite: true);
        // Debian's broker logs through log4j 1.2, which finds no configuration and says nothing: its
        // console at INFO tells what a failing test needs (a standby waiting on the lock, a recovery).
        File.WriteAllText(Path.Combine(_folder, "conf", "log4j.properties"), string.Join('\n',
            "log4j.rootLogger=INFO, console",
            "log4j.appender.console=org.apache.log4j.ConsoleAppender",
            "log4j.appender.console.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss.SSS} %5p | %m%n"));
        var ssl = Certificates is null ? "" : $"""
                <sslContext><sslContext keyStore="file:{Certificates.ServerPkcs12File}" keyStorePassword="{TestCertificates.KeystorePassword}" keyStoreType="pkcs12"/></sslContext>
            """;
        var sslConnector = StompSslPort is null ? "" : $"""<transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:{StompSslPort}"/>""";
        File.WriteAllText(Path.Combine(_folder, "conf", "activemq.xml"), $"""
            <beans xmlns="http://www.springframework.org/schema/beans"
              xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
              xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
              http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
              <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="gwtest" dataDirectory="{_folder}/data">
                <persistenceAdapter>{Persistence()}</persistenceAdapter>
                {ssl}
                <transportConnectors>
                  <transportConnector name="openwire" uri="tcp://127.0.0.1:{OpenWirePort}"/>
                  <transportConnector name="stomp" uri="stomp://127.0.0.1:{StompPort}"/>
                  {sslConnector}
                </transportConnectors>
              </broker>
            </beans>
            """);
    }

    /// <summary>Starts the broker (again) on the same data and ports; waits until a STOMP CONNECT is answered.</summary>
    public async Task StartAgainAsync()
    {
        Launch();
        await WaitUntilOpenAsync(Patience.Startup);
    }

    private void Launch()
    {
        // 1 GB heap: with 256 MB it ran out of memory holding ~100,000 undrained persistent messages.
        // A pair's members, two JVMs side by side, get 512 MB each and small loads.
        var heap = _sharedStore is null ? "1G" : "512m";
        var command = $"java -Xms{heap} -Xmx{heap} -Dlog4j.configuration=file:{_folder}/conf/log4j.properties -Dactivemq.base={_folder} -Dactivemq.home=/usr/share/activemq " +
                      $"-Dactivemq.conf={_folder}/conf -Dactivemq.data={_folder}/data " +
                      $"-jar /usr/share/activemq/bin/activemq.jar start xbean:file:{_folder}/conf/activemq.xml";
        _process = ChildProcesses.StartDetached(command, LogFile, new Dictionary<string, string>());
    }

    private string LogFile => Path.Combine(_folder, "out.log");

    /// <summary>The console log, read while the broker may still write it.</summary>
    private string ReadLog()
    {
        using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private string LogTail() => File.Exists(LogFile) ? string.Join('\n', ReadLog().Split('\n').TakeLast(30)) : "(no log)";

    /// <summary>SIGTERM: the broker's shutdown hook stops it cleanly, as a failover of the active broker would look.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process) return;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill!.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>
    /// SIGSTOPs the broker's JVM: its sockets stay open but it answers nothing, heart-beats included,
    /// as a hung host does. Thaw afterwards, also when the test fails (SIGKILL at dispose works either way).
    /// </summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    public Task ThawAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        // The shell that started it exec'd java: the process id is the JVM's.
        if (_process is not { HasExited: false } process) throw new InvalidOperationException("ActiveMQ is not running");
        var (code, output) = await ChildProcesses.RunAsync("kill", [$"-{signal}", process.Id.ToString()]);
        if (code != 0) throw new InvalidOperationException($"could not send SIG{signal} to ActiveMQ: {output}");
    }

    /// <summary>A STOMP consumer of <paramref name="destination"/> (auto ack), for tests to read what arrived.</summary>
    public async Task<StompClientConnection> SubscribeAsync(string destination)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", StompPort);
        var connection = await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions { Host = "localhost", Heartbeat = TimeSpan.Zero }, CancellationToken.None);
        await connection.WriteAndAwaitReceiptAsync(
            [StompFrame.Create(StompCommand.Subscribe, ("id", "0"), ("destination", destination), ("ack", "auto"), ("receipt", "sub"))], "sub", CancellationToken.None);
        return connection;
    }

    /// <summary>Reads MESSAGE frames until <paramref name="expected"/> arrived, or nothing new came for <paramref name="quiet"/>.</summary>
    public async Task<List<StompFrame>> ReadAsync(string destination, int expected, TimeSpan timeout, TimeSpan? quiet = null)
    {
        await using var consumer = await SubscribeAsync(destination);
        var frames = new List<StompFrame>();
        var deadline = DateTime.UtcNow + timeout;
        while (frames.Count < expected && DateTime.UtcNow < deadline)
        {
            using var wait = new CancellationTokenSource(quiet ?? deadline - DateTime.UtcNow);
            try
            {
                frames.Add(await consumer.Messages.ReadAsync(wait.Token));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return frames;
    }

    private async Task<bool> AnswersConnectAsync()
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", StompPort);
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await using var connection = await StompClientConnection.ConnectAsync(tcp.GetStream(), new StompConnectOptions { Host = "localhost", Heartbeat = TimeSpan.Zero }, quick.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or StompErrorException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
