using System.Diagnostics;
using System.Text;

namespace Gateway.IntegrationTests.Browser;

/// <summary>
/// Runs a Node program of <c>tests/browser</c> that asks its caller to act: each <c>ASK: step</c>
/// line it prints is handed to the caller's handler, and once the handler is done the program reads
/// <c>done step</c> on its stdin. For browser tests whose world changes while the page is open.
/// </summary>
public static class NodeDialogue
{
    public static async Task<NodeScript.Result> RunAsync(string script, IReadOnlyDictionary<string, string> environment,
        Func<string, Task> onAsk, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("node", [script])
        {
            WorkingDirectory = NodeScript.BrowserTestsFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var output = new StringBuilder();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var asks = System.Threading.Channels.Channel.CreateUnbounded<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("ASK: ", StringComparison.Ordinal)) asks.Writer.TryWrite(e.Data[5..].Trim());
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        var exited = process.WaitForExitAsync(deadline.Token);
        try
        {
            while (true)
            {
                var next = asks.Reader.WaitToReadAsync(deadline.Token).AsTask();
                if (await Task.WhenAny(exited, next) == exited) break;
                if (!asks.Reader.TryRead(out var step)) continue;
                await onAsk(step);
                lock (output) output.AppendLine($"(caller: done {step})");
                await process.StandardInput.WriteLineAsync($"done {step}");
                await process.StandardInput.FlushAsync();
            }
            await exited;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (output) output.AppendLine($"(killed after {timeout.TotalSeconds} s)");
        }
        lock (output) return new NodeScript.Result(process.ExitCode, output.ToString());
    }
}
