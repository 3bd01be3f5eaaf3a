namespace Gateway.Security;

/// <summary>The rules of an ACL file, as read (<see cref="AclFileParser"/>); <see cref="For"/> gives one client's.</summary>
public sealed class AccessRules(IReadOnlyList<AclRule> anonymous, IReadOnlyDictionary<string, IReadOnlyList<AclRule>> users, IReadOnlyList<AclRule> patterns)
{
    /// <summary>The <c>topic</c> lines before any <c>user</c> line: clients without a user.</summary>
    public IReadOnlyList<AclRule> Anonymous { get; } = anonymous;

    public IReadOnlyDictionary<string, IReadOnlyList<AclRule>> Users { get; } = users;

    /// <summary>The <c>pattern</c> lines, for every client, wherever they stand in the file.</summary>
    public IReadOnlyList<AclRule> Patterns { get; } = patterns;

    /// <summary>
    /// The rules in force for one client: its user's section (the anonymous one without a user), then every
    /// pattern with <c>%u</c> and <c>%c</c> put in. A pattern is left out when its value is missing
    /// (<c>%u</c> for an anonymous client), empty, or holds <c>/</c>, <c>+</c> or <c>#</c>: a user named
    /// <c>a/#</c> must not turn <c>%u/#</c> into <c>a/#/#</c>, nor one named <c>#</c> into <c>#</c>.
    /// </summary>
    /// <param name="user">The authenticated user; null or empty for an anonymous client.</param>
    public ClientAccess For(string? user, string clientId)
    {
        var anonymousClient = string.IsNullOrEmpty(user);
        var rules = new List<AclRule>(anonymousClient ? Anonymous : Users.GetValueOrDefault(user!) ?? []);
        foreach (var pattern in Patterns)
        {
            if (Substitute(pattern.Filter, anonymousClient ? null : user, clientId) is { } filter)
                rules.Add(pattern with { Filter = filter });
        }
        return new ClientAccess(rules);
    }

    private static string? Substitute(string filter, string? user, string clientId)
    {
        if (filter.Contains("%u", StringComparison.Ordinal))
        {
            if (!IsSafeLevelText(user)) return null;
            filter = filter.Replace("%u", user, StringComparison.Ordinal);
        }
        if (filter.Contains("%c", StringComparison.Ordinal))
        {
            if (!IsSafeLevelText(clientId)) return null;
            filter = filter.Replace("%c", clientId, StringComparison.Ordinal);
        }
        return filter;
    }

    private static bool IsSafeLevelText(string? value) => !string.IsNullOrEmpty(value) && value.AsSpan().IndexOfAny('/', '+', '#') < 0;
}

/// <summary>
/// What one client may do: write to a topic (PUBLISH, STOMP SEND), subscribe to a filter, and receive a
/// message on a topic. A <c>deny</c> rule wins over any grant; without a rule that grants it, nothing is allowed.
/// </summary>
public sealed class ClientAccess
{
    /// <summary>With no ACL file: everything, as before there were ACLs.</summary>
    public static readonly ClientAccess Unrestricted = new([new AclRule(AclAccess.ReadWrite, "#", 0), new AclRule(AclAccess.ReadWrite, "$SYS/#", 0)]);

    private readonly AclRule[] _denies;
    private readonly AclRule[] _grants;

    public ClientAccess(IEnumerable<AclRule> rules)
    {
        var all = rules.ToArray();
        _denies = all.Where(r => r.Access == AclAccess.Deny).ToArray();
        _grants = all.Where(r => r.Access != AclAccess.Deny).ToArray();
    }

    /// <summary>A PUBLISH or SEND to <paramref name="topic"/>: a write rule's filter matches it, and no deny rule's does.</summary>
    public AclDecision MayWrite(string topic) => Decide(topic, AclAccess.Write);

    /// <summary>A message on <paramref name="topic"/> delivered to this client.</summary>
    public AclDecision MayRead(string topic) => Decide(topic, AclAccess.Read);

    /// <summary>
    /// A subscription to <paramref name="filter"/> (for <c>$share/group/filter</c>, pass the filter): a read
    /// rule's filter covers it, and no deny rule's filter covers it. A deny that covers only part of it
    /// leaves the subscription granted; its messages are then held back one by one (<see cref="MayRead"/>).
    /// </summary>
    public AclDecision MaySubscribe(string filter)
    {
        foreach (var deny in _denies)
            if (TopicCoverage.Covers(deny.Filter, filter)) return AclDecision.DeniedBy(deny);
        foreach (var grant in _grants)
            if (grant.Grants(AclAccess.Read) && TopicCoverage.Covers(grant.Filter, filter)) return AclDecision.Allowed;
        return AclDecision.NoGrant;
    }

    private AclDecision Decide(string topic, AclAccess wanted)
    {
        foreach (var deny in _denies)
            if (TopicCoverage.Matches(deny.Filter, topic)) return AclDecision.DeniedBy(deny);
        foreach (var grant in _grants)
            if (grant.Grants(wanted) && TopicCoverage.Matches(grant.Filter, topic)) return AclDecision.Allowed;
        return AclDecision.NoGrant;
    }
}

/// <summary>An ACL answer, and which rule refused (null: no rule granted it).</summary>
public readonly record struct AclDecision(bool IsAllowed, AclRule? Deny)
{
    public static readonly AclDecision Allowed = new(true, null);
    public static readonly AclDecision NoGrant = new(false, null);

    public static AclDecision DeniedBy(AclRule rule) => new(false, rule);

    /// <summary>For the log (never sent to the client: the rules are the operator's business).</summary>
    public string Why => IsAllowed ? "allowed" : Deny is { } rule ? $"denied by {rule}" : "no rule grants it";
}
