using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.UnitTests.Configuration;

/// <summary>docs/configuration.md against the options records: every key there, with the record's default, and nothing else.</summary>
public sealed partial class ConfigurationDocsTests
{
    private static readonly Dictionary<string, (string Default, string Meaning)> Documented = ReadDocumentedKeys();

    private static IEnumerable<(string Key, System.Reflection.PropertyInfo Property)> Keys() => OptionsSections.All.SelectMany(s => s.Keys());

    [Fact]
    public void Every_key_is_documented_with_the_default_of_its_record()
    {
        foreach (var (key, property) in Keys())
        {
            Assert.True(Documented.TryGetValue(key, out var row), $"{key} is not in docs/configuration.md");
            Assert.False(string.IsNullOrWhiteSpace(row.Meaning), $"{key} has no meaning in docs/configuration.md");
            var literal = Literal(property.GetValue(Activator.CreateInstance(property.DeclaringType!)));
            if (literal is null)
                Assert.False(string.IsNullOrWhiteSpace(row.Default), $"{key} has no default: the page must say what applies when it is not set");
            else
                Assert.True(row.Default == $"`{literal}`", $"{key}: the page says the default is {row.Default}, the record `{literal}`");
        }
    }

    [Fact]
    public void Nothing_is_documented_that_is_not_a_key()
    {
        var keys = Keys().Select(k => k.Key).ToHashSet(StringComparer.Ordinal);
        Assert.Equal([], Documented.Keys.Where(k => !keys.Contains(k)).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Every_documented_key_is_accepted_at_start()
    {
        foreach (var key in Documented.Keys)
        {
            var path = key.Replace("<name>", "cloud", StringComparison.Ordinal).Replace("<i>", "0", StringComparison.Ordinal);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(path, "x")]).Build();
            Assert.Empty(OptionsSections.UnknownKeys(configuration.GetSection(GatewayOptions.Section)));
        }
    }

    [Fact]
    public void A_record_property_that_is_neither_a_key_nor_set_by_the_gateway_is_a_section_of_its_own()
    {
        var keys = Keys().Select(k => k.Property).ToHashSet();
        var nested = OptionsSections.All
            .SelectMany(s => s.Records.SelectMany(r => r.GetProperties()).Where(p => p.SetMethod?.IsPublic == true && !keys.Contains(p) && !s.NotKeys.Contains(p.Name)))
            .Select(p => p.Name).Order(StringComparer.Ordinal);
        // Each is walked by OptionsSections.UnknownKeys: a new one must be added there and to the page.
        Assert.Equal(["Auth", "Hardware", "Http", "Limits", "Mqtt", "Outbox", "Routes", "Stomp", "Tls", "Upstreams"], nested);
    }

    /// <summary>A default as the page writes it: the value a file would hold, or null when nothing is set.</summary>
    private static string? Literal(object? value) => value switch
    {
        null or ICollection { Count: 0 } => null,
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString(t.Milliseconds == 0 ? @"hh\:mm\:ss" : @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private static Dictionary<string, (string Default, string Meaning)> ReadDocumentedKeys()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Gateway.sln"))) folder = folder.Parent;
        Assert.NotNull(folder);
        var rows = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(folder.FullName, "docs", "configuration.md")))
        {
            if (KeyRow().Match(line) is not { Success: true } m) continue;
            Assert.True(rows.TryAdd(m.Groups["key"].Value, (m.Groups["default"].Value.Trim(), m.Groups["meaning"].Value.Trim())), $"{m.Groups["key"].Value} is documented twice");
        }
        return rows;
    }

    [GeneratedRegex(@"^\| `(?<key>Gateway:[^`]+)` \|(?<default>[^|]*)\|(?<meaning>.*)\|$")]
    private static partial Regex KeyRow();
}
