using Gateway.Configuration;
using Gateway.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Security;

public sealed class ReloadingFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("reloading-");

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    public void Dispose() => _folder.Delete(recursive: true);

    private static int ParseNumber(string text) => int.TryParse(text.Trim(), out var n) ? n : throw new FormatException("line 1 is not a number");

    private ReloadingFile<Box> Open(string path, Box? whenMissing = null) =>
        new(path, "the test file", t => new Box(ParseNumber(t)), NullLogger.Instance, TimeSpan.FromHours(1), whenMissing);

    private sealed record Box(int Value);

    [Fact]
    public void A_changed_file_is_read_again_and_announced()
    {
        var path = PathOf("a");
        File.WriteAllText(path, "1");
        using var file = Open(path);
        Box? announced = null;
        file.Reloaded += b => announced = b;
        Assert.Equal(1, file.Current.Value);

        File.WriteAllText(path + ".new", "22");
        File.Move(path + ".new", path, overwrite: true); // as gateway passwd replaces it
        file.Poll();

        Assert.Equal(22, file.Current.Value);
        Assert.Equal(22, announced?.Value);
    }

    [Fact]
    public void A_change_that_does_not_parse_keeps_the_last_good_value()
    {
        var path = PathOf("b");
        File.WriteAllText(path, "5");
        using var file = Open(path);

        File.WriteAllText(path, "five!");
        file.Poll();
        Assert.Equal(5, file.Current.Value);

        File.WriteAllText(path, "6");
        file.Poll();
        Assert.Equal(6, file.Current.Value);
    }

    [Fact]
    public void A_missing_or_unparsable_file_stops_the_start_with_one_line_naming_it()
    {
        var missing = Assert.Throws<GatewayConfigurationException>(() => Open(PathOf("none")));
        Assert.Contains("the test file", missing.Message);
        Assert.Contains("no such file", missing.Message);
        Assert.DoesNotContain('\n', missing.Message);

        File.WriteAllText(PathOf("bad"), "x");
        var bad = Assert.Throws<GatewayConfigurationException>(() => Open(PathOf("bad")));
        Assert.Contains("line 1 is not a number", bad.Message);
    }

    [Fact]
    public void A_file_allowed_to_be_missing_starts_with_the_stand_in_and_is_read_when_it_appears()
    {
        var path = PathOf("later");
        using var file = Open(path, whenMissing: new Box(-1));
        Assert.Equal(-1, file.Current.Value);
        file.Poll();
        Assert.Equal(-1, file.Current.Value);

        File.WriteAllText(path, "7");
        file.Poll();
        Assert.Equal(7, file.Current.Value);
    }
}
