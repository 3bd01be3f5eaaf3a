using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Gateway.IntegrationTests.Appliance;

/// <summary>The shipped unit, checked by systemd's own tools: it loads clean and is confined ("OK", at most 2.5).</summary>
public sealed partial class SystemdUnitTests : IDisposable
{
    private const double MostExposure = 2.5;

    private readonly string _folder = Directory.CreateTempSubdirectory("unit-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string FirmwareConfig
    {
        get
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Gateway.sln"))) folder = folder.Parent;
            return Path.Combine(folder!.FullName, "firmware-config");
        }
    }

    /// <summary>The unit in a folder of its own (with the front panel's drop-in when asked), its program a real one so that verify can check it.</summary>
    private string PlaceUnit(bool withGpioDropIn)
    {
        var text = File.ReadAllText(Path.Combine(FirmwareConfig, "edge-gateway.service"));
        var program = Path.Combine(AppContext.BaseDirectory, "gateway");
        Assert.True(File.Exists(program), $"the gateway's program {program} is not beside the tests");
        text = ExecStart().Replace(text, $"ExecStart={program}");
        text = WorkingDirectory().Replace(text, $"WorkingDirectory={AppContext.BaseDirectory}");
        var unit = Path.Combine(_folder, "edge-gateway.service");
        File.WriteAllText(unit, text);
        if (withGpioDropIn)
        {
            Directory.CreateDirectory(unit + ".d");
            File.Copy(Path.Combine(FirmwareConfig, "edge-gateway.service.d", "gpio.conf"), Path.Combine(unit + ".d", "gpio.conf"));
        }
        return unit;
    }

    private static async Task<(int Code, string Output)> AnalyzeAsync(params string[] args)
    {
        var start = new ProcessStartInfo("systemd-analyze", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Patience.Reaction);
        return (process.ExitCode, (await output) + (await errors));
    }

    [Fact]
    public async Task Systemd_analyze_verify_finds_nothing_to_say_about_the_unit_or_its_drop_in()
    {
        foreach (var dropIn in new[] { false, true })
        {
            var (code, output) = await AnalyzeAsync("verify", PlaceUnit(dropIn));
            Assert.True(code == 0 && output.Trim().Length == 0, $"verify (drop-in: {dropIn}) exited {code}: {output}");
            Directory.Delete(_folder, recursive: true);
            Directory.CreateDirectory(_folder);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_unit_is_confined_to_an_exposure_of_at_most_2_5(bool withGpioDropIn)
    {
        var (code, output) = await AnalyzeAsync("security", "--offline=true", PlaceUnit(withGpioDropIn));
        Assert.True(code == 0, output);
        var level = Overall().Match(output);
        Assert.True(level.Success, $"no overall exposure in: {output}");
        var exposure = double.Parse(level.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(exposure <= MostExposure, $"exposure {exposure} is over {MostExposure}:\n{output}");
    }

    [GeneratedRegex("^ExecStart=.*$", RegexOptions.Multiline)]
    private static partial Regex ExecStart();

    [GeneratedRegex("^WorkingDirectory=.*$", RegexOptions.Multiline)]
    private static partial Regex WorkingDirectory();

    [GeneratedRegex(@"Overall exposure level for [^:]+: (\d+\.\d)")]
    private static partial Regex Overall();
}
