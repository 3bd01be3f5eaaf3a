namespace Gateway.IntegrationTests.Mqtt;

/// <summary>Debian's mosquitto_pub and mosquitto_sub (mosquitto-clients, which ./test.sh installs) against a gateway on this machine.</summary>
internal static class MosquittoClients
{
    public static Task<(int ExitCode, string Output)> PubAsync(int port, IEnumerable<string> args) => RunAsync("mosquitto_pub", port, args);

    public static Task<(int ExitCode, string Output)> SubAsync(int port, IEnumerable<string> args) => RunAsync("mosquitto_sub", port, args);

    private static Task<(int ExitCode, string Output)> RunAsync(string program, int port, IEnumerable<string> args)
    {
        if (!File.Exists($"/usr/bin/{program}")) throw new InvalidOperationException($"{program} is missing: install mosquitto-clients (./test.sh does)");
        return ChildProcesses.RunAsync(program, ["-h", "127.0.0.1", "-p", port.ToString(), .. args], timeout: Patience.Reaction);
    }
}
