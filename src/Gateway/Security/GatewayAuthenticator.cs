using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;

namespace Gateway.Security;

/// <summary>
/// Who may connect, for every listener (MQTT over TCP and WebSocket, STOMP over TCP and WebSocket,
/// HTTP Basic): the users of <c>Gateway:Auth:PasswordFile</c> (re-read when it changes), the
/// loopback-only rule for anonymous clients, and the failed-login back-off shared by all of them.
/// </summary>
/// <remarks>
/// <para>"Users configured" means the password file holds at least one user. A password file that does
/// not exist yet counts as no users, rather than stopping the start: the appliance ships naming
/// <c>/etc/edge-gateway/passwd</c>, and a fresh box must still take local clients and pick the file up
/// the moment <c>gateway passwd</c> creates it, without a restart. Without users nothing from the
/// network gets in (unless <c>AllowAnonymous</c>), so a mistyped path fails closed, and the start says so.</para>
/// <para>A client that gives a user name is always checked, with or without users configured (with none
/// it is refused): so a user name that got in (MQTTnet's <c>UserName</c>, STOMP's <c>login</c>, as
/// <see cref="LoginResult.User"/>) is always a verified one, and the ACL may rely on it. No user name
/// (null or empty) is an anonymous client.</para>
/// </remarks>
public sealed partial class GatewayAuthenticator : IDisposable
{
    private const int CacheLimit = 10_000;

    private readonly AuthOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<GatewayAuthenticator> _logger;
    private readonly ReloadingFile<UserFile>? _file;
    private readonly SemaphoreSlim _hashing = new(Math.Max(1, Environment.ProcessorCount));
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, byte> _verified = new(StringComparer.Ordinal);
    // What an unknown user's password is checked against, at the same cost; random, so nothing matches it
    // (not made with PasswordHash.Create: that would spend a whole check at every start).
    private readonly PasswordHash _dummy = new(PasswordHash.DefaultIterations, RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(32));

    /// <exception cref="GatewayConfigurationException">The password file exists but cannot be read or parsed.</exception>
    public GatewayAuthenticator(GatewayOptions options, GatewayMetrics metrics, ILogger<GatewayAuthenticator> logger)
    {
        _options = options.Auth;
        _metrics = metrics;
        _logger = logger;
        Throttle = new LoginThrottle(_options.FailedLoginsAllowed, _options.FailedLoginBackoff, _options.FailedLoginBackoffMax);
        if (_options.PasswordFile is { } path)
        {
            _file = new ReloadingFile<UserFile>(path, "the password file (Gateway:Auth:PasswordFile)", UserFile.Parse, logger, whenMissing: UserFile.Empty);
            _file.Reloaded += _ => _verified.Clear();
        }
        metrics.Gauge("auth_users", "", () => Users.Count);
    }

    public LoginThrottle Throttle { get; }

    public UserFile Users => _file?.Current ?? UserFile.Empty;

    /// <summary>At least one user in the password file: every anonymous client is refused unless AllowAnonymous.</summary>
    public bool UsersConfigured => Users.Count > 0;

    public AuthOptions Options => _options;

    public void Dispose()
    {
        _file?.Dispose();
        _hashing.Dispose();
    }

    /// <summary>Looks at the password file now rather than at the next poll (tests).</summary>
    public void ReloadNow() => _file?.Poll();

    /// <summary>Whether a client that gives no user may come in from <paramref name="source"/>.</summary>
    public bool AnonymousAllowedFrom(IPAddress? source) =>
        _options.AllowAnonymous || (!UsersConfigured && source is not null && IsLoopback(source));

    /// <summary>
    /// Decides one login on any listener: <paramref name="user"/> null or empty is an anonymous client.
    /// Logs and counts every refusal (user and source, never the password).
    /// </summary>
    /// <param name="protocol">"mqtt", "stomp" or "http": the metrics' label and the log's words.</param>
    public async ValueTask<LoginResult> LoginAsync(string protocol, string? user, string? password, IPAddress? source, CancellationToken cancellationToken)
    {
        var from = source is null ? "?" : LoginThrottle.Normalise(source).ToString();
        if (string.IsNullOrEmpty(user))
        {
            if (AnonymousAllowedFrom(source)) return new LoginResult(LoginOutcome.Accepted, null, "anonymous");
            _metrics.Increment("auth_anonymous_refused_total", protocol);
            LogAnonymousRefused(protocol, from);
            return new LoginResult(LoginOutcome.AnonymousRefused, null, UsersConfigured
                ? "a user name and password are required"
                : "anonymous clients are accepted only on the gateway's own machine; ask its operator for a user");
        }

        var shown = Printable(user);
        if (source is not null && Throttle.HeldBackFor(source) is var wait && wait > TimeSpan.Zero)
        {
            _metrics.Increment("auth_logins_held_back_total", protocol);
            LogHeldBack(protocol, shown, from, Math.Ceiling(wait.TotalSeconds));
            return new LoginResult(LoginOutcome.HeldBack, null, $"too many failed logins from {from}: try again in {Math.Ceiling(wait.TotalSeconds)} s");
        }

        // With no users there is nothing to check a user name against: refused rather than let in
        // unchecked, so a user name that got in is always a verified one (the ACL relies on it).
        if (UsersConfigured && await VerifyAsync(user, password ?? "", cancellationToken).ConfigureAwait(false))
        {
            _metrics.Increment("auth_logins_total", protocol);
            return new LoginResult(LoginOutcome.Accepted, user, "ok");
        }

        _metrics.Increment("auth_logins_failed_total", protocol);
        var (failures, held) = source is null ? (0, TimeSpan.Zero) : Throttle.Failed(source);
        LogFailed(protocol, shown, from, failures, held.TotalSeconds);
        return new LoginResult(LoginOutcome.BadCredentials, null, UsersConfigured
            ? "bad user name or password"
            : "no users are configured on this gateway: connect without a user name, or have the operator add one with gateway passwd");
    }

    /// <summary>A client's user name as fit for a log line: no line breaks or control characters, not too long.</summary>
    private static string Printable(string user)
    {
        var clipped = user.Length > 64 ? user[..64] + "…" : user;
        return string.Create(clipped.Length, clipped, static (span, text) =>
        {
            for (var i = 0; i < text.Length; i++) span[i] = char.IsControl(text[i]) ? '?' : text[i];
        });
    }

    /// <summary>
    /// Checks the password against the user's hash, or a dummy hash for an unknown user, so both cost
    /// the same. A success is remembered by a keyed hash (of the user, the stored hash and the password;
    /// the key lives only in this process), so a reconnect storm costs one PBKDF2 per device, not per connect.
    /// </summary>
    private async ValueTask<bool> VerifyAsync(string user, string password, CancellationToken cancellationToken)
    {
        var known = Users.Users.TryGetValue(user, out var hash);
        var cacheKey = known ? CacheKey(user, hash!, password) : null;
        if (cacheKey is not null && _verified.ContainsKey(cacheKey)) return true;

        await _hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool matches;
        try
        {
            matches = await Task.Run(() => (hash ?? _dummy).Matches(password), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _hashing.Release();
        }
        if (!known || !matches) return false;
        if (_verified.Count >= CacheLimit) _verified.Clear();
        _verified.TryAdd(cacheKey!, 0);
        return true;
    }

    private string CacheKey(string user, PasswordHash hash, string password)
    {
        var text = Encoding.UTF8.GetBytes($"{user}\0{hash}\0{password}");
        try
        {
            return Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, text));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(text);
        }
    }

    /// <summary>127.0.0.0/8, ::1, and IPv4 loopback reached over an IPv6 socket.</summary>
    public static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(LoginThrottle.Normalise(address));

    /// <summary>The lines at every start saying who may connect and how to change it.</summary>
    public void LogStartState()
    {
        var path = _file?.FilePath;
        if (_options.AllowAnonymous)
            LogAnonymousEverywhere();
        if (path is not null && !File.Exists(path))
            LogStart($"The password file {path} (Gateway:Auth:PasswordFile) does not exist yet: no users, so anonymous clients are accepted only from this machine; add the first user with 'gateway passwd {path} <user>' (read within a second, no restart)");
        else if (path is null)
            LogStart("No users configured: anonymous clients are accepted only from this machine (loopback). To open the gateway to the network add a user with 'gateway passwd <file> <user>' and set Gateway:Auth:PasswordFile, or set Gateway:Auth:AllowAnonymous: true");
        else if (!UsersConfigured)
            LogStart($"The password file {path} holds no users: anonymous clients are accepted only from this machine; add one with 'gateway passwd {path} <user>'");
        else
            LogStart($"{Users.Count} users from {path}; clients must log in{(_options.AllowAnonymous ? " or come in anonymously" : "")}");
    }

    [LoggerMessage(EventIds.AuthStartState, LogLevel.Information, "{State}")]
    private partial void LogStart(string state);

    [LoggerMessage(EventIds.AuthAnonymousEverywhere, LogLevel.Warning, "Anonymous clients are accepted from any address (Gateway:Auth:AllowAnonymous is true): anyone who reaches the gateway may publish and subscribe")]
    private partial void LogAnonymousEverywhere();

    [LoggerMessage(EventIds.LoginFailed, LogLevel.Warning, "Failed {Protocol} login as user '{User}' from {Source} (failure {Failures} from there; held back {HeldSeconds} s)")]
    private partial void LogFailed(string protocol, string user, string source, int failures, double heldSeconds);

    [LoggerMessage(EventIds.LoginHeldBack, LogLevel.Warning, "Held back a {Protocol} login as user '{User}' from {Source}: too many failures from there, {Seconds} s to go")]
    private partial void LogHeldBack(string protocol, string user, string source, double seconds);

    [LoggerMessage(EventIds.AnonymousRefused, LogLevel.Information, "Refused an anonymous {Protocol} client from {Source}")]
    private partial void LogAnonymousRefused(string protocol, string source);
}
