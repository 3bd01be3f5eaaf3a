using System.Diagnostics;

namespace Gateway.TestUtilities.Fuzzing;

/// <summary>
/// Runs a fuzz target over mutated corpus inputs, deterministically: iteration <c>i</c> of seed
/// <c>s</c> is always the same input, whatever ran before it, so a failure can be replayed alone.
/// </summary>
public static class FuzzRunner
{
    /// <summary>Runs <paramref name="target"/> on each input; the first failure stops the run with the input in the message.</summary>
    /// <returns>How many inputs ran.</returns>
    public static async Task<int> RunAsync(FuzzProtocol protocol, int suiteIterations, Func<FuzzCase, Task> target, FuzzSettings? settings = null)
    {
        settings ??= FuzzSettings.FromEnvironment();
        var elapsed = Stopwatch.StartNew();
        var done = 0;
        while (settings.KeepGoing(done, suiteIterations, elapsed))
        {
            var fuzzCase = Make(protocol, settings.Seed, done);
            try
            {
                await target(fuzzCase);
            }
            catch (Exception ex)
            {
                throw new FuzzFailureException(fuzzCase, ex);
            }
            done++;
        }
        if (settings.ByHand) Console.WriteLine($"fuzz {protocol}: {done} inputs in {elapsed.Elapsed.TotalSeconds:0.0} s, FUZZ_SEED={settings.Seed}");
        return done;
    }

    public static int Run(FuzzProtocol protocol, int suiteIterations, Action<FuzzCase> target, FuzzSettings? settings = null) =>
        RunAsync(protocol, suiteIterations, c =>
        {
            target(c);
            return Task.CompletedTask;
        }, settings).GetAwaiter().GetResult();

    /// <summary>Iteration <paramref name="iteration"/> of <paramref name="seed"/>'s series.</summary>
    public static FuzzCase Make(FuzzProtocol protocol, int seed, int iteration)
    {
        // Not HashCode.Combine: its seed changes with every process, and a replay must give the same input.
        var random = new Random(unchecked((seed * 486_187_739) + (iteration * 16_777_619) + (int)protocol));
        var corpus = FuzzCorpus.For(protocol);
        var (input, origin) = new FuzzMutator(protocol, corpus, random).Next();
        return new FuzzCase(seed, iteration, input, origin, random);
    }
}
