using System.Diagnostics;
using System.Text;

namespace Gateway.IntegrationTests.Browser;

/// <summary>Runs one of the Node programs in <c>tests/browser</c> (real @stomp/stompjs, MQTT.js, Playwright) against a gateway.</summary>
public static class NodeScript
{
    public static string BrowserTestsFolder { get; } = FindBrowserTests();

    public sealed record Result(int ExitCode, string Output)
    {
        /// <summary>The value of the first <c>NAME: value</c> line the script printed.</summary>
        public string Line(string name) =>
            Output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(name + ": ", StringComparison.Ordinal))?[(name.Length + 2)..]
            ?? throw new Xunit.Sdk.XunitException($"the script printed no '{name}:' line:\n{Output}");
    }

    /// <summary>Runs <c>node &lt;script&gt;</c> with the environment given; the script's own timeout bounds it, ours backs it up.</summary>
    public static async Task<Result> RunAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        if (!Directory.Exists(Path.Combine(BrowserTestsFolder, "node_modules")))
            throw new InvalidOperationException($"{BrowserTestsFolder}/node_modules is missing: run 'npm ci' there (./test.sh does)");
        var start = new ProcessStartInfo("node", [script])
        {
            WorkingDirectory = BrowserTestsFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var output = new StringBuilder();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (output) output.AppendLine($"(killed after {timeout.TotalSeconds} s)");
        }
        lock (output) return new Result(process.ExitCode, output.ToString());
    }

    private static string FindBrowserTests()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) return Path.Combine(dir.FullName, "tests", "browser");
        }
        throw new InvalidOperationException($"no Gateway.sln above {AppContext.BaseDirectory}: cannot find tests/browser");
    }
}
