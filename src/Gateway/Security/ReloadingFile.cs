using Gateway.Configuration;

namespace Gateway.Security;

/// <summary>
/// A configuration file read at start and read again whenever it changes (the password file, the ACL,
/// a certificate): the parsed value is swapped whole, so a reader sees the old or the new, never a mix.
/// </summary>
/// <remarks>
/// Polled (modification time, length and inode change) rather than watched: editors and
/// <c>gateway passwd</c> replace the file by a rename, which file-system watchers miss or report
/// twice, and a one-second poll of one file costs nothing. A file that no longer parses keeps the last
/// good value in force and is logged once per change; one that cannot be read at start stops the start.
/// </remarks>
/// <typeparam name="T">What the file is parsed into.</typeparam>
public sealed class ReloadingFile<T> : IDisposable where T : class
{
    private readonly string _path;
    private readonly string _what;
    private readonly Func<string, T> _parse;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private (DateTime Written, long Length, DateTime Folder) _seen;
    private string? _text; // null while a file allowed to be missing has not appeared
    private T _current;

    /// <param name="path">The file.</param>
    /// <param name="what">What the file is, for messages: "the password file (Gateway:Auth:PasswordFile)".</param>
    /// <param name="parse">Text to value; throws <see cref="FormatException"/> naming the line of a problem.</param>
    /// <param name="logger">Where reloads and refused changes are said.</param>
    /// <param name="poll">How often the file is looked at; default one second.</param>
    /// <param name="whenMissing">
    /// The value while the file does not exist yet, for a file the gateway may start without (the
    /// password file on a fresh box); it is read as soon as it appears. Null: a missing file stops the start.
    /// </param>
    /// <exception cref="GatewayConfigurationException">The file is missing (without <paramref name="whenMissing"/>), unreadable or does not parse.</exception>
    public ReloadingFile(string path, string what, Func<string, T> parse, ILogger logger, TimeSpan? poll = null, T? whenMissing = null)
    {
        _path = System.IO.Path.GetFullPath(path);
        _what = what;
        _parse = parse;
        _logger = logger;
        _seen = Stamp();
        try
        {
            if (whenMissing is not null && _seen == default)
            {
                _text = null;
                _current = whenMissing;
            }
            else
            {
                _text = Read();
                _current = parse(_text);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new GatewayConfigurationException($"{what} {_path}: {Reason(ex)}", ex);
        }
        var every = poll ?? TimeSpan.FromSeconds(1);
        _timer = new Timer(_ => Poll(), null, every, every);
    }

    /// <summary>The value of the file as last read successfully.</summary>
    public T Current => Volatile.Read(ref _current);

    /// <summary>Raised after a changed file was read and parsed, with the new value.</summary>
    public event Action<T>? Reloaded;

    public string FilePath => _path;

    public void Dispose() => _timer.Dispose();

    /// <summary>Looks at the file now instead of at the next poll (tests, a reload signal).</summary>
    public void Poll()
    {
        lock (_timer) PollLocked();
    }

    private void PollLocked()
    {
        var stamp = Stamp();
        if (stamp == _seen) return;
        _seen = stamp;
        try
        {
            var text = Read();
            if (text == _text) return;
            _text = text;
            var value = _parse(text);
            Volatile.Write(ref _current, value);
            _logger.LogInformation(Core.Diagnostics.EventIds.SecurityFileReloaded, "Read {What} {Path} again: it changed", _what, _path);
            Reloaded?.Invoke(value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            _logger.LogError(Core.Diagnostics.EventIds.SecurityFileRefused, "Kept the previous {What}: {Path} changed but {Reason}", _what, _path, Reason(ex));
        }
    }

    private string Read() => File.ReadAllText(_path);

    private (DateTime, long, DateTime) Stamp()
    {
        var info = new FileInfo(_path);
        if (!info.Exists) return default;
        // A rename over the file (cp -p, an editor) can keep the old size and modification time, but it
        // changes the folder's; a folder change that left the text alone is recognised by the text.
        return (info.LastWriteTimeUtc, info.Length, Directory.GetLastWriteTimeUtc(System.IO.Path.GetDirectoryName(_path)!));
    }

    private static string Reason(Exception ex) => ex switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => $"permission denied to user {Environment.UserName} (make it readable by the gateway's user, or give it with systemd's LoadCredential)",
        _ => ex.Message,
    };
}
