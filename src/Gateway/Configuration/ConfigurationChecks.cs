using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Gateway.Configuration;

/// <summary>
/// The checks made before the configuration is bound, each problem one line naming the file (with
/// line and column) or the key: a named file that is missing or unreadable, a JSON syntax error, a
/// misspelt top-level section, an unknown log level.
/// </summary>
public static class ConfigurationChecks
{
    /// <summary>
    /// The top-level sections the gateway reads. Another top-level name within two edits of one of
    /// them (ignoring case) is taken for a misspelling of it and refused; any other is left alone, as
    /// the host reads some (Kestrel, AllowedHosts) and every environment variable is one.
    /// </summary>
    private static readonly string[] ReadSections = ["Gateway", "Logging"];

    private const int MisspellingDistance = 2;

    /// <summary>The log levels Microsoft.Extensions.Logging accepts, by name.</summary>
    private static readonly string[] LogLevels = Enum.GetNames<LogLevel>();

    /// <summary>The JSON reader's leniency, as the configuration's JSON provider has it.</summary>
    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>A configuration file's problem, or null when it can be read and parsed (or is absent and was not named).</summary>
    /// <param name="path">The file.</param>
    /// <param name="named">Named by the operator (<c>--config</c>, GATEWAY_CONFIG): absent is then a problem.</param>
    public static string? CheckFile(string path, bool named)
    {
        string text;
        try
        {
            if (!File.Exists(path)) return named ? $"{path}: the configuration file does not exist" : null;
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{path}: the configuration file cannot be read: {ex.Message}";
        }
        try
        {
            using var document = JsonDocument.Parse(text, JsonOptions);
            return document.RootElement.ValueKind == JsonValueKind.Object ? null : $"{path}: the configuration must be a JSON object, not {document.RootElement.ValueKind}";
        }
        catch (JsonException ex)
        {
            // The reader counts from 0; editors count lines and columns from 1.
            var where = ex.LineNumber is { } line ? $"{path}:{line + 1}:{(ex.BytePositionInLine ?? 0) + 1}" : path;
            return $"{where}: JSON syntax error: {FirstSentence(ex.Message)}";
        }
    }

    /// <summary>Misspelt top-level sections and unknown log levels, each one line.</summary>
    public static List<string> CheckKeys(IConfiguration configuration)
    {
        var problems = new List<string>();
        foreach (var section in configuration.GetChildren())
        {
            if (ReadSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase)) continue;
            var meant = ReadSections.FirstOrDefault(s => EditDistance(section.Key.ToLowerInvariant(), s.ToLowerInvariant()) <= MisspellingDistance);
            if (meant is not null) problems.Add($"unknown section {section.Key} (did you mean {meant}? every key is in docs/configuration.md)");
        }
        foreach (var level in LogLevelSettings(configuration.GetSection("Logging")))
        {
            if (level.Value is { } value && !IsLogLevel(value))
                problems.Add($"{level.Path} has an unknown log level '{value}' (one of {string.Join(", ", LogLevels)})");
        }
        return problems;
    }

    /// <summary>Every <c>LogLevel</c> entry under Logging, the providers' own (Logging:Console:LogLevel) too.</summary>
    private static IEnumerable<IConfigurationSection> LogLevelSettings(IConfigurationSection logging)
    {
        var sections = new[] { logging.GetSection("LogLevel") }.Concat(logging.GetChildren().Select(c => c.GetSection("LogLevel")));
        return sections.SelectMany(s => s.GetChildren()).DistinctBy(s => s.Path);
    }

    // Names only: the logging binder also takes a number, which nobody means to write.
    private static bool IsLogLevel(string value) => LogLevels.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase);

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim().TrimEnd('.');
    }

    /// <summary>Levenshtein distance with adjacent transpositions (a swapped pair of letters is one edit).</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
