namespace Gateway.CommandLine;

/// <summary>
/// Separates configuration overrides (<c>--Gateway:Mqtt:Port=1884</c>, <c>--Logging:LogLevel:Default Debug</c>)
/// from the command line's own words. An override is an option whose name holds a colon: no
/// command's option does, so every other token is the parser's, and an unknown one is an error.
/// </summary>
internal static class ConfigurationOverrides
{
    public static (string[] Commands, string[] Overrides) Split(IReadOnlyList<string> args)
    {
        var commands = new List<string>();
        var overrides = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                commands.AddRange(args.Skip(i)); // everything after "--" is the parser's as written
                break;
            }
            if (!IsOverride(arg))
            {
                commands.Add(arg);
                continue;
            }
            if (arg.Contains('='))
            {
                overrides.Add(arg);
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                overrides.Add($"{arg}={args[++i]}"); // "--Key value", as ASP.NET's command-line source reads it
            }
            else
            {
                commands.Add(arg); // no value: the parser reports it
            }
        }
        return (commands.ToArray(), overrides.ToArray());
    }

    private static bool IsOverride(string arg)
    {
        if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length < 3) return false;
        var name = arg.AsSpan(2);
        var equals = name.IndexOf('=');
        if (equals >= 0) name = name[..equals];
        return name.Contains(':') && !name.StartsWith(":");
    }
}
