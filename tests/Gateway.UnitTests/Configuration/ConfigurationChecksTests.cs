using Gateway.CommandLine;
using Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.UnitTests.Configuration;

public sealed class ConfigurationChecksTests
{
    private static List<string> Problems(params (string Key, string Value)[] settings) =>
        ConfigurationChecks.CheckKeys(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Theory]
    [InlineData("Gatway", "Gateway")]
    [InlineData("gateway2", "Gateway")]
    [InlineData("Gaetway", "Gateway")] // a swapped pair is one edit
    [InlineData("Loggin", "Logging")]
    public void A_top_level_section_within_two_edits_of_one_the_gateway_reads_is_a_misspelling(string written, string meant)
    {
        var problem = Assert.Single(Problems(($"{written}:Mqtt:Port", "1")));
        Assert.StartsWith($"unknown section {written} (did you mean {meant}?", problem);
    }

    [Theory]
    [InlineData("Kestrel")]
    [InlineData("AllowedHosts")]
    [InlineData("PATH")]
    [InlineData("GATEWAY_CONFIG")]
    [InlineData("Gateway")]
    [InlineData("LOGGING")]
    public void Other_top_level_sections_are_left_alone(string section) => Assert.Empty(Problems(($"{section}:X", "1")));

    [Fact]
    public void Every_log_level_setting_is_checked_and_names_are_case_insensitive()
    {
        Assert.Empty(Problems(("Logging:LogLevel:Default", "warning"), ("Logging:Console:LogLevel:Gateway", "Debug")));
        Assert.Equal(
            ["Logging:LogLevel:Default has an unknown log level 'Verbose' (one of Trace, Debug, Information, Warning, Error, Critical, None)",
             "Logging:Console:LogLevel:Gateway has an unknown log level '5' (one of Trace, Debug, Information, Warning, Error, Critical, None)"],
            Problems(("Logging:LogLevel:Default", "Verbose"), ("Logging:Console:LogLevel:Gateway", "5")));
    }

    [Fact]
    public void Overrides_with_a_colon_go_to_the_configuration_and_every_other_word_to_the_parser()
    {
        var (words, overrides) = ConfigurationOverrides.Split(
            ["backlog", "list", "--Gateway:Http:Port=9090", "--route", "sensors/#", "--Logging:LogLevel:Default", "Debug", "--limit", "5", "--bogus"]);

        Assert.Equal(["backlog", "list", "--route", "sensors/#", "--limit", "5", "--bogus"], words);
        Assert.Equal(["--Gateway:Http:Port=9090", "--Logging:LogLevel:Default=Debug"], overrides);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("12h", 43200)]
    [InlineData("7d", 604800)]
    [InlineData("1.5h", 5400)]
    [InlineData("01:00:00", 3600)]
    public void Ages_are_read_as_operators_write_them(string text, int seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), Durations.TryParse(text));

    [Theory]
    [InlineData("soon")]
    [InlineData("-5m")]
    [InlineData("5y")]
    public void Anything_else_is_not_an_age(string text) => Assert.Null(Durations.TryParse(text));
}
