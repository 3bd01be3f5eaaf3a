namespace Gateway.TestUtilities.Fuzzing;

/// <summary>The protocols the fuzzers speak; each has its own corpus folder and length fields.</summary>
public enum FuzzProtocol
{
    Mqtt,
    Stomp,
}

/// <summary>
/// The valid conversations the mutators start from: <c>tests/fuzz-corpus/{mqtt,stomp}/*.bin</c>, one
/// connection's bytes each (CONNECT first), written by <c>tests/fuzz-corpus/make-corpus.py</c> and
/// copied beside the tests by the build.
/// </summary>
public static class FuzzCorpus
{
    private static readonly Lazy<IReadOnlyList<byte[]>> Mqtt = new(() => Load("mqtt"));
    private static readonly Lazy<IReadOnlyList<byte[]>> Stomp = new(() => Load("stomp"));

    public static IReadOnlyList<byte[]> For(FuzzProtocol protocol) => protocol == FuzzProtocol.Mqtt ? Mqtt.Value : Stomp.Value;

    private static IReadOnlyList<byte[]> Load(string folder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", folder);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"the fuzz corpus was not copied beside the tests: {path} is missing");
        var files = Directory.GetFiles(path, "*.bin").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        if (files.Count == 0) throw new InvalidOperationException($"the fuzz corpus folder {path} is empty");
        return files;
    }
}
