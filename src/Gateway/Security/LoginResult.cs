namespace Gateway.Security;

public enum LoginOutcome
{
    /// <summary>In: <see cref="LoginResult.User"/> is the verified user, or null for an anonymous client that may come in.</summary>
    Accepted,

    /// <summary>No user given, and anonymous clients may not come in from there.</summary>
    AnonymousRefused,

    /// <summary>Unknown user or wrong password (never said which).</summary>
    BadCredentials,

    /// <summary>Too many failed logins from this address: refused without looking at the password.</summary>
    HeldBack,
}

/// <param name="User">The verified user name when <see cref="Outcome"/> is <see cref="LoginOutcome.Accepted"/>; null for anonymous.</param>
/// <param name="Reason">Words for the client (MQTT 5 reason string, STOMP ERROR, HTTP body); never a secret.</param>
public sealed record LoginResult(LoginOutcome Outcome, string? User, string Reason)
{
    public bool IsAccepted => Outcome == LoginOutcome.Accepted;
}
