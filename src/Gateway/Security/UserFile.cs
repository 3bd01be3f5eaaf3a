using System.Collections.Frozen;

namespace Gateway.Security;

/// <summary>
/// The users of the password file (<c>Gateway:Auth:PasswordFile</c>), one <c>user:hash</c> line each
/// (see <see cref="PasswordHash"/>); blank lines and lines starting with <c>#</c> are ignored.
/// </summary>
/// <remarks>The layout of Mosquitto's password file, so operators read it at a glance; the hash is PBKDF2-SHA256.</remarks>
public sealed class UserFile
{
    public static readonly UserFile Empty = new(FrozenDictionary<string, PasswordHash>.Empty);

    private UserFile(FrozenDictionary<string, PasswordHash> users) => Users = users;

    public FrozenDictionary<string, PasswordHash> Users { get; }

    public int Count => Users.Count;

    /// <exception cref="FormatException">Names the line (by number, never its text) and what is wrong with it.</exception>
    public static UserFile Parse(string text)
    {
        var users = new Dictionary<string, PasswordHash>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new FormatException($"line {number} is not user:hash");
            var user = line[..colon];
            if (ValidateUserName(user) is { } problem) throw new FormatException($"line {number}: {problem}");
            if (users.ContainsKey(user)) throw new FormatException($"line {number}: user '{user}' appears twice");
            try
            {
                users[user] = PasswordHash.Parse(line[(colon + 1)..]);
            }
            catch (FormatException ex)
            {
                throw new FormatException($"line {number} (user '{user}'): {ex.Message}", ex);
            }
        }
        return new UserFile(users.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Why a name cannot be a user, or null when it can.</summary>
    public static string? ValidateUserName(string user)
    {
        if (user.Length is 0 or > 256) return "a user name must be 1 to 256 characters";
        foreach (var c in user)
        {
            if (c == ':' || char.IsWhiteSpace(c) || char.IsControl(c)) return "a user name must not contain ':', spaces or control characters";
        }
        return null;
    }
}
