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

    /// <inheritdoc cref="MqttListenerOptions.Validate"/>
    public IEnumerable<string> Validate(string section)
    {
        if (PasswordFile is { Length: 0 }) yield return $"{section}:PasswordFile must name a file, or be left out";
        if (AclFile is { Length: 0 }) yield return $"{section}:AclFile must name a file, or be left out";
    }
}
