using System.Text.Json;

namespace Gateway.IntegrationTests.CommandLine;

[CollectionDefinition(Name)]
public sealed class BacklogCollection : ICollectionFixture<BacklogFixture>
{
    public const string Name = "backlog commands";
}

/// <summary>A RabbitMQ node of their own: these tests stop it so that messages wait.</summary>
public sealed class BacklogFixture : IAsyncLifetime
{
    public RabbitMqNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await RabbitMqNode.StartAsync();

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>
/// <c>gateway backlog</c> against a running gateway whose upstream is down (through its admin API)
/// and on a stopped gateway's store, with exact counts; what is purged never reaches the broker.
/// </summary>
[Collection(BacklogCollection.Name)]
public sealed class BacklogCommandTests(BacklogFixture fixture)
{
    private const int OnA = 30, OnB = 20;

    private RabbitMqNode Node => fixture.Node;

    [Trait("Category", "Slow")] // a broker stopped and started
    [Fact]
    public async Task Backlog_commands_on_a_running_gateway_count_exactly_and_a_purged_message_is_never_forwarded()
    {
        var prefix = "cli" + Guid.NewGuid().ToString("N")[..8];
        var queue = prefix + "-q";
        await Node.DeclareQueueBoundAsync(queue, "amq.topic", $"{prefix}.#");
        await Node.StopAsync();
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", Node.AmqpUri)
            .Route($"{prefix}/a/#", "cloud").Route($"{prefix}/b/#", "cloud").Build());
        await gateway.StartAsync();
        await PublishAsync(gateway, prefix);
        var env = gateway.Settings;

        var all = await GatewayCli.RunAsync(env, "backlog", "list", "--limit", "1000");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Contains("running gateway at http://127.0.0.1:", all.Stderr);
        var rows = Rows(all);
        Assert.Equal(OnA + OnB, rows.Length);
        Assert.All(rows, r => Assert.Equal("cloud", r[3])); // the only upstream still owes every one
        Assert.Equal(Enumerable.Range(1, OnA + OnB).Select(i => i.ToString()), rows.Select(r => r[0]));
        Assert.Equal(OnB, Rows(await GatewayCli.RunAsync(env, "backlog", "list", "--route", "1")).Length); // by index
        Assert.Equal(5, Rows(await GatewayCli.RunAsync(env, "backlog", "list", "--upstream", "cloud", "--from", "40", "--limit", "5")).Length);

        var show = await GatewayCli.RunAsync(env, "backlog", "show", "31");
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains($"topic:          {prefix}/b/dev", show.Stdout);
        Assert.Contains("payload (text):\nb-0\n", show.Stdout);
        Assert.Equal(1, (await GatewayCli.RunAsync(env, "backlog", "show", "999")).ExitCode);

        var file = Path.Combine(gateway.DataPath, "..", prefix + ".jsonl");
        var export = await GatewayCli.RunAsync(env, "backlog", "export", file);
        Assert.True(export.ExitCode == 0, export.ToString());
        var exported = (await File.ReadAllLinesAsync(file)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(OnA + OnB, exported.Count);
        Assert.Equal("b-19", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(exported[^1].GetProperty("payload").GetString()!)));

        var unconfirmed = await GatewayCli.RunAsync(env, "backlog", "purge", "--route", $"{prefix}/a/#");
        Assert.Equal(2, unconfirmed.ExitCode); // no terminal to ask on, no --yes
        Assert.Equal(OnA + OnB, await gateway.MetricAsync("outbox_messages"));

        var byRoute = await GatewayCli.RunAsync(env, "backlog", "purge", "--route", $"{prefix}/a/#", "--yes");
        Assert.True(byRoute.ExitCode == 0, byRoute.ToString());
        Assert.StartsWith($"purged {OnA} messages", byRoute.Stdout);
        var byBefore = await GatewayCli.RunAsync(env, "backlog", "purge", "--before", $"{OnA + 6}", "--yes");
        Assert.StartsWith("purged 5 messages", byBefore.Stdout); // 31 to 35: the route's are gone already
        Assert.Equal(OnB - 5, await gateway.MetricAsync("outbox_messages"));
        await Poll.UntilAsync(() => Task.FromResult(gateway.Output.Contains($"removed {OnA} messages (route {prefix}/a/#")), Patience.Reaction, "the gateway to log the purge");

        await Node.StartAgainAsync();
        var received = await QueueReader.ReadAsync(Node.AmqpUri, queue, OnB - 5, Patience.Delivery, quiet: Patience.Quiet * 4);
        Assert.Equal(Enumerable.Range(5, OnB - 5).Select(i => $"b-{i}"), received.Select(m => m.Body));
        await Poll.UntilAsync(async () => await gateway.MetricAsync("outbox_messages") == 0, Patience.Delivery, "the outbox to empty");
    }

    [Fact]
    public async Task Backlog_commands_work_on_a_stopped_gateway_s_store_and_its_purge_holds_after_restart()
    {
        var prefix = "cli" + Guid.NewGuid().ToString("N")[..8];
        // An upstream where nothing listens: the messages wait.
        var nowhere = $"amqp://guest:guest@127.0.0.1:{FreePort.Next()}/";
        await using var gateway = new GatewayProcess(new GatewaySettings().Upstream("cloud", nowhere)
            .Route($"{prefix}/a/#", "cloud").Route($"{prefix}/b/#", "cloud").Build());
        await gateway.StartAsync();
        await PublishAsync(gateway, prefix);
        await gateway.KillAsync(); // its log not checkpointed: a reader that wrote would change the files
        var env = gateway.Settings;

        var before = StoreBytes(gateway.DataPath);
        var list = await GatewayCli.RunAsync(env, "backlog", "list", "--limit", "1000");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("stopped gateway's store", list.Stderr);
        Assert.Contains("(read only)", list.Stderr);
        Assert.Equal(OnA + OnB, Rows(list).Length);
        var file = Path.Combine(gateway.DataPath, "..", prefix + ".jsonl");
        Assert.Equal(0, (await GatewayCli.RunAsync(env, "backlog", "export", file)).ExitCode);
        Assert.Equal(OnA + OnB, (await File.ReadAllLinesAsync(file)).Count(l => JsonDocument.Parse(l).RootElement.GetProperty("sequence").GetInt64() > 0));
        Assert.Contains("payload (text):\nb-3\n", (await GatewayCli.RunAsync(env, "backlog", "show", $"{OnA + 4}")).Stdout);
        Assert.Equal(before, StoreBytes(gateway.DataPath)); // reading wrote nothing

        Assert.StartsWith("purged 0 messages", (await GatewayCli.RunAsync(env, "backlog", "purge", "--older-than", "1h", "--yes")).Stdout);
        var purge = await GatewayCli.RunAsync(env, "backlog", "purge", "--route", "0", "--yes");
        Assert.True(purge.ExitCode == 0, purge.ToString());
        Assert.StartsWith($"purged {OnA} messages", purge.Stdout);

        await gateway.StartAsync();
        Assert.Equal(OnB, await gateway.MetricAsync("outbox_messages"));
        var again = await GatewayCli.RunAsync(env, "backlog", "list", "--limit", "1000");
        Assert.Contains("running gateway", again.Stderr);
        Assert.All(Rows(again), r => Assert.StartsWith($"{prefix}/b/", r[4]));
    }

    private static async Task PublishAsync(GatewayProcess gateway, string prefix)
    {
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
        for (var i = 0; i < OnA; i++) await device.PublishAsync($"{prefix}/a/dev", $"a-{i}");
        for (var i = 0; i < OnB; i++) await device.PublishAsync($"{prefix}/b/dev", $"b-{i}");
    }

    /// <summary>The store's two files' contents, hashed.</summary>
    private static string StoreBytes(string dataPath) =>
        string.Join(' ', new[] { "outbox.db", "outbox-wal.db" }.Select(f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(dataPath, f))))));

    /// <summary>The table's rows: sequence, age, bytes, owed by, topic.</summary>
    private static string[][] Rows(CliResult list) =>
        list.StdoutLines.Skip(1).SkipLast(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
}
