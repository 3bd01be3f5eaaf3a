using Gateway.Configuration;

namespace Gateway.Security;

/// <summary>
/// An upstream's password, from where the operator keeps it: <c>Password</c> (an environment variable,
/// <c>Gateway__Upstreams__&lt;name&gt;__Password</c>), <c>PasswordFile</c> (first line of a file), or
/// <c>PasswordCredential</c> (a systemd credential: <c>LoadCredential=</c> puts it in <c>$CREDENTIALS_DIRECTORY</c>,
/// readable by the service's own user even under <c>DynamicUser</c>). Read once, at start.
/// </summary>
internal static class UpstreamSecrets
{
    /// <exception cref="GatewayConfigurationException">The file cannot be read: one line naming the key and the file, never the secret.</exception>
    public static string? PasswordOf(string name, UpstreamSettings upstream)
    {
        var section = $"Gateway:Upstreams:{name}";
        if (upstream.PasswordCredential is { } credential)
        {
            var folder = Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
            if (string.IsNullOrEmpty(folder))
                throw new GatewayConfigurationException($"{section}:PasswordCredential names the systemd credential '{credential}', but CREDENTIALS_DIRECTORY is not set (add LoadCredential={credential}:/path/to/file to the unit)");
            return FirstLine($"{section}:PasswordCredential", Path.Combine(folder, credential));
        }
        return upstream.PasswordFile is { } file ? FirstLine($"{section}:PasswordFile", file) : upstream.Password;
    }

    private static string? FirstLine(string key, string path)
    {
        try
        {
            using var reader = new StreamReader(path);
            return reader.ReadLine()?.Trim();
        }
        catch (UnauthorizedAccessException)
        {
            throw new GatewayConfigurationException($"{key}: {path} cannot be read by user {Environment.UserName} (permission denied); make it readable by the gateway's user, or give it with systemd's LoadCredential= and PasswordCredential");
        }
        catch (Exception ex) when (ex is IOException)
        {
            throw new GatewayConfigurationException($"{key}: {path} cannot be read ({ex.GetType().Name})");
        }
    }
}
