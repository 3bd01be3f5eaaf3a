namespace Gateway.Configuration;

/// <summary>Who may connect and what they may do, bound from <c>Gateway:Auth</c>.</summary>
public sealed record AuthOptions
{
    /// <summary>
    /// Let clients in without a user from any address. Off (the default): with no users configured,
    /// only clients on the gateway's own machine (loopback) get in without one.
    /// </summary>
    public bool AllowAnonymous { get; init; }

    /// <summary>The users and their salted password hashes, made with <c>gateway passwd</c>; re-read when it changes.</summary>
    public string? PasswordFile { get; init; }

    /// <summary>Which user may read and write which topics; re-read when it changes. None: every user may do everything.</summary>
    public string? AclFile { get; init; }

    /// <summary>Failed logins one source address may make before its logins are held back.</summary>
    public int FailedLoginsAllowed { get; init; } = 5;

    /// <summary>How long a source is held back after <see cref="FailedLoginsAllowed"/> failures; doubled by each further failure.</summary>
    public TimeSpan FailedLoginBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest a source is held back.</summary>
    public TimeSpan FailedLoginBackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Require a user for <c>/metrics</c> too (when users are configured); off: scrapers need no password.</summary>
    public bool ProtectMetrics { get; init; }

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        if (FailedLoginsAllowed < 1) yield return $"{section}:FailedLoginsAllowed must be at least 1 (was {FailedLoginsAllowed})";
        if (FailedLoginBackoff <= TimeSpan.Zero) yield return $"{section}:FailedLoginBackoff must be positive (was {FailedLoginBackoff})";
        if (FailedLoginBackoffMax < FailedLoginBackoff) yield return $"{section}:FailedLoginBackoffMax must be at least FailedLoginBackoff (was {FailedLoginBackoffMax})";
        if (PasswordFile is { Length: 0 }) yield return $"{section}:PasswordFile must name a file, or be left out";
        if (AclFile is { Length: 0 }) yield return $"{section}:AclFile must name a file, or be left out";
    }
}
