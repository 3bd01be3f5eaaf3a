using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Security;

/// <summary>
/// <c>gateway passwd FILE USER</c> adds or replaces USER's line in the password file, the password read
/// from standard input (first line) or, on a terminal, asked for twice without echo;
/// <c>gateway passwd -D FILE USER</c> deletes it. The file is replaced whole (a temporary file beside it,
/// then a rename), so the gateway never reads half of it; a new file is made 0600 and, when run as root,
/// owned by its folder's owner; an existing one keeps its mode and owner (the gateway's user must still read it).
/// </summary>
public static partial class PasswdCommand
{
    private const string Usage = "usage: gateway passwd FILE USER      (password on standard input, or asked for)\n       gateway passwd -D FILE USER   (delete USER)";

    /// <param name="args">The arguments after <c>passwd</c>.</param>
    /// <param name="prompt">Asks for a secret without echo (a terminal); null: read it from <paramref name="stdin"/>.</param>
    /// <returns>0 done, 1 failed, 2 wrong usage.</returns>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, Func<string, string?>? prompt = null)
    {
        var delete = args is ["-D", _, _];
        if (!(delete || args is [_, _]) || args[^2].StartsWith('-'))
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        var (file, user) = (args[^2], args[^1]);
        if (UserFile.ValidateUserName(user) is { } problem)
        {
            stderr.WriteLine($"gateway passwd: {problem}");
            return 2;
        }
        try
        {
            var lines = File.Exists(file) ? File.ReadAllLines(file).ToList() : [];
            var index = lines.FindIndex(l => l.StartsWith(user + ":", StringComparison.Ordinal));
            if (delete)
            {
                if (index < 0)
                {
                    stderr.WriteLine($"gateway passwd: no user '{user}' in {file}");
                    return 1;
                }
                lines.RemoveAt(index);
            }
            else
            {
                if (ReadPassword(stdin, stderr, prompt) is not { } password) return 1;
                var line = $"{user}:{PasswordHash.Create(password)}";
                if (index < 0) lines.Add(line);
                else lines[index] = line;
            }
            UserFile.Parse(string.Join('\n', lines)); // never write a file the gateway would refuse
            Replace(file, lines);
            stdout.WriteLine(delete ? $"deleted user '{user}' from {file}" : $"{(index < 0 ? "added" : "replaced")} user '{user}' in {file}");
            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            stderr.WriteLine($"gateway passwd: {file}: {ex.Message}");
            return 1;
        }
    }

    private static string? ReadPassword(TextReader stdin, TextWriter stderr, Func<string, string?>? prompt)
    {
        string? password;
        if (prompt is not null)
        {
            password = prompt("Password: ");
            if (password is not null && prompt("Password again: ") != password)
            {
                stderr.WriteLine("gateway passwd: the passwords differ; nothing changed");
                return null;
            }
        }
        else
        {
            password = stdin.ReadLine();
        }
        if (string.IsNullOrEmpty(password))
        {
            stderr.WriteLine("gateway passwd: empty password; nothing changed");
            return null;
        }
        return password;
    }

    private static void Replace(string file, List<string> lines)
    {
        var full = Path.GetFullPath(file);
        var folder = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp");
        var existing = File.Exists(full);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                var text = Encoding.UTF8.GetBytes(lines.Count == 0 ? "" : string.Join('\n', lines) + "\n");
                stream.Write(text);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows())
            {
                if (existing) File.SetUnixFileMode(temp, File.GetUnixFileMode(full));
                // Run as root for a service user: an existing file keeps its owner; a new one takes its
                // folder's (the unit's StateDirectory, owned by the DynamicUser), or the gateway could not read it.
                if (Environment.IsPrivilegedProcess) KeepOwner(existing ? full : folder, temp);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Gives <paramref name="temp"/> the owner and group of <paramref name="original"/>: .NET reads neither, so coreutils' stat does.</summary>
    private static void KeepOwner(string original, string temp)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%u %g", "--", original]) { RedirectStandardOutput = true, UseShellExecute = false })
                         ?? throw new IOException("could not run stat to read the file's owner");
        var ids = stat.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        stat.WaitForExit();
        if (stat.ExitCode != 0 || ids.Length != 2) throw new IOException("could not read the file's owner with stat");
        var path = Encoding.UTF8.GetBytes(temp + "\0");
        if (Chown(path, uint.Parse(ids[0], CultureInfo.InvariantCulture), uint.Parse(ids[1], CultureInfo.InvariantCulture)) != 0)
            throw new IOException($"could not give the new file the old one's owner (errno {Marshal.GetLastPInvokeError()})");
    }

    [DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(byte[] path, uint owner, uint group);

    /// <summary>Reads a line from the terminal without echoing it.</summary>
    public static string? PromptWithoutEcho(string question)
    {
        Console.Error.Write(question);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0) text.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
        Console.Error.WriteLine();
        return text.ToString();
    }

    /// <summary>What <c>Program.Main</c> calls for <c>gateway passwd ...</c>.</summary>
    public static int RunFromConsole(string[] args) =>
        Run(args, Console.In, Console.Out, Console.Error, Console.IsInputRedirected ? null : PromptWithoutEcho);
}
