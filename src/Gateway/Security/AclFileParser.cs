namespace Gateway.Security;

/// <summary>
/// Reads an ACL file in Mosquitto's format (<c>acl_file</c>): <c>user NAME</c> starts a user's section,
/// <c>topic [read|write|readwrite|deny] FILTER</c> grants (or denies) that section's user a topic filter,
/// <c>pattern [read|write|readwrite|deny] FILTER</c> applies to every client with <c>%u</c> (its user) and
/// <c>%c</c> (its client id) put in, and lines starting with <c>#</c> are comments.
/// <c>topic</c> lines before the first <c>user</c> line are the anonymous clients' rules.
/// </summary>
public static class AclFileParser
{
    /// <exception cref="FormatException">A line that is not a rule, naming its number.</exception>
    public static AccessRules Parse(string text)
    {
        var anonymous = new List<AclRule>();
        var users = new Dictionary<string, List<AclRule>>(StringComparer.Ordinal);
        var patterns = new List<AclRule>();
        var section = anonymous;
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var (keyword, rest) = SplitFirst(line);
            switch (keyword)
            {
                case "user":
                    if (rest.Length == 0) throw new FormatException($"line {number}: 'user' needs a user name");
                    if (!users.TryGetValue(rest, out var rules)) users[rest] = rules = [];
                    section = rules; // a second section for the same user adds to the first, as in Mosquitto
                    break;
                case "topic":
                    section.Add(ParseRule(rest, number, keyword));
                    break;
                case "pattern":
                    patterns.Add(ParseRule(rest, number, keyword));
                    break;
                default:
                    throw new FormatException($"line {number}: '{keyword}' is not a rule: use user, topic or pattern (# starts a comment)");
            }
        }
        return new AccessRules(anonymous, users.ToDictionary(u => u.Key, u => (IReadOnlyList<AclRule>)u.Value, StringComparer.Ordinal), patterns);
    }

    /// <summary><c>[access] FILTER</c>: without an access word the rule grants read and write (Mosquitto's default).</summary>
    private static AclRule ParseRule(string rest, int number, string keyword)
    {
        if (rest.Length == 0) throw new FormatException($"line {number}: '{keyword}' needs a topic filter");
        var (first, filter) = SplitFirst(rest);
        AclAccess? access = first switch
        {
            "read" => AclAccess.Read,
            "write" => AclAccess.Write,
            "readwrite" => AclAccess.ReadWrite,
            "deny" => AclAccess.Deny,
            _ => null,
        };
        if (access is null || filter.Length == 0)
        {
            // "topic read" alone names the topic "read", as Mosquitto reads it.
            access = AclAccess.ReadWrite;
            filter = rest;
        }
        if (TopicCoverage.ProblemWithFilter(filter) is { } problem) throw new FormatException($"line {number}: {problem}");
        return new AclRule(access.Value, filter, number);
    }

    private static (string First, string Remainder) SplitFirst(string line)
    {
        var space = line.IndexOfAny([' ', '\t']);
        return space < 0 ? (line, "") : (line[..space], line[(space + 1)..].Trim());
    }
}
