using System.Diagnostics;
using System.Globalization;

namespace Gateway.TestUtilities.Fuzzing;

/// <summary>
/// How long a fuzz test runs. In the suite: the test's own iteration count from a fixed seed, the
/// same inputs every run. By hand: <c>FUZZ_ITERATIONS=N</c> (a count per test), <c>FUZZ_SECONDS=N</c>
/// (a time per test, which wins over the count), <c>FUZZ_SEED=N</c> (another series of inputs;
/// <c>random</c> picks one and prints it).
/// </summary>
public sealed class FuzzSettings
{
    /// <summary>The series the suite runs: any fixed number, so a failure in the suite is there on every run.</summary>
    public const int SuiteSeed = 20261207;

    private readonly int? _iterations;
    private readonly TimeSpan? _duration;

    private FuzzSettings(int seed, int? iterations, TimeSpan? duration)
    {
        Seed = seed;
        _iterations = iterations;
        _duration = duration;
    }

    public int Seed { get; }

    public static FuzzSettings FromEnvironment()
    {
        var seedText = Environment.GetEnvironmentVariable("FUZZ_SEED");
        var seed = seedText switch
        {
            null or "" => SuiteSeed,
            "random" => Random.Shared.Next(),
            _ => int.Parse(seedText, CultureInfo.InvariantCulture),
        };
        var iterations = Environment.GetEnvironmentVariable("FUZZ_ITERATIONS") is { Length: > 0 } count ? int.Parse(count, CultureInfo.InvariantCulture) : (int?)null;
        var seconds = Environment.GetEnvironmentVariable("FUZZ_SECONDS") is { Length: > 0 } s ? TimeSpan.FromSeconds(double.Parse(s, CultureInfo.InvariantCulture)) : (TimeSpan?)null;
        return new FuzzSettings(seed, iterations, seconds);
    }

    /// <summary>Whether iteration <paramref name="done"/> (counted from 0) should run, given the test's default count.</summary>
    public bool KeepGoing(int done, int suiteIterations, Stopwatch elapsed) =>
        _duration is { } duration ? elapsed.Elapsed < duration : done < (_iterations ?? suiteIterations);

    /// <summary>Whether this run is by hand (a duration or count was given), for tests that then say more about what they did.</summary>
    public bool ByHand => _duration is not null || _iterations is not null;
}
