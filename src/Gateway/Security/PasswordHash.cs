using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Security;

/// <summary>
/// One user's salted password hash as kept in the password file:
/// <c>$pbkdf2-sha256$&lt;iterations&gt;$&lt;salt, base64&gt;$&lt;hash, base64&gt;</c> (PBKDF2-HMAC-SHA256).
/// </summary>
/// <remarks>
/// The iteration count travels with each hash, so raising <see cref="DefaultIterations"/> later leaves
/// existing lines valid and new ones stronger. 600,000 is OWASP's 2023 figure for PBKDF2-HMAC-SHA256;
/// docs/security.md gives what one check costs on the gateway's hardware.
/// </remarks>
public sealed record PasswordHash(int Iterations, byte[] Salt, byte[] Hash)
{
    public const string Scheme = "pbkdf2-sha256";
    public const int DefaultIterations = 600_000;
    public const int MinimumIterations = 10_000;
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>A new hash of <paramref name="password"/> with a fresh random salt.</summary>
    public static PasswordHash Create(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return new PasswordHash(iterations, salt, Derive(password, salt, iterations, HashBytes));
    }

    /// <summary>Whether <paramref name="password"/> is the one hashed; always does the full work, compares in constant time.</summary>
    public bool Matches(string password) =>
        CryptographicOperations.FixedTimeEquals(Derive(password, Salt, Iterations, Hash.Length), Hash);

    /// <exception cref="FormatException">Not a hash of this scheme, or out of range; the message never quotes the text (it is a secret's hash).</exception>
    public static PasswordHash Parse(string text)
    {
        var parts = text.Split('$');
        if (parts.Length != 5 || parts[0].Length != 0 || parts[1] != Scheme)
            throw new FormatException($"not a ${Scheme}$<iterations>$<salt>$<hash> entry (make it with gateway passwd)");
        if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < MinimumIterations)
            throw new FormatException($"the iteration count must be a number of at least {MinimumIterations}");
        try
        {
            var salt = Convert.FromBase64String(parts[3]);
            var hash = Convert.FromBase64String(parts[4]);
            if (salt.Length < 8 || hash.Length < 16) throw new FormatException("the salt or the hash is too short");
            return new PasswordHash(iterations, salt, hash);
        }
        catch (FormatException ex) when (ex.Message.Contains("Base-64", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("base 64", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("the salt or the hash is not base64");
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"${Scheme}${Iterations}${Convert.ToBase64String(Salt)}${Convert.ToBase64String(Hash)}");

    private static byte[] Derive(string password, byte[] salt, int iterations, int length)
    {
        var bytes = Encoding.UTF8.GetBytes(password);
        try
        {
            return Rfc2898DeriveBytes.Pbkdf2(bytes, salt, iterations, HashAlgorithmName.SHA256, length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}
