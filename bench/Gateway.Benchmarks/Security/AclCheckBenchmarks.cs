using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;
using Gateway.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks.Security;

/// <summary>
/// What the ACL adds to each message delivered to an MQTT or STOMP subscriber: the receiver's rules looked
/// up by client id (as MqttAuthorisation's enqueue interceptor does) and the topic checked against them.
/// </summary>
[MemoryDiagnoser]
public class AclCheckBenchmarks
{
    private const string Topic = "sensors/site1/line3/temperature";

    private readonly ConcurrentDictionary<string, CachedAccess> _sessions = new(StringComparer.Ordinal);
    private AccessControl _control = null!;
    private string _folder = null!;

    /// <summary>Rules in the receiver's section: 3 (a small plant's) or 50 (every line its own).</summary>
    [Params(3, 50)]
    public int Rules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("acl-bench-").FullName;
        var path = Path.Combine(_folder, "acl");
        var lines = new List<string> { "user alice", "topic deny sensors/secret/#" };
        for (var i = 0; i < Rules - 3; i++) lines.Add($"topic read plant/line{i}/#");
        lines.Add("topic read sensors/#");
        lines.Add("pattern readwrite clients/%c/#");
        File.WriteAllLines(path, lines);
        _control = new AccessControl(new GatewayOptions { Auth = new AuthOptions { AclFile = path } }, new GatewayMetrics(), NullLogger<AccessControl>.Instance);
        for (var i = 0; i < 100; i++) _sessions[$"client-{i}"] = _control.For("alice", $"client-{i}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _control.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Description = "Delivery check (look-up + MayRead, granted by the last rule)")]
    public bool DeliveryCheck() => _sessions.TryGetValue("client-42", out var session) && session.Current.MayRead(Topic).IsAllowed;

    [Benchmark(Description = "Topic match alone")]
    public bool MatchOnly() => TopicCoverage.Matches("sensors/#", Topic);
}
