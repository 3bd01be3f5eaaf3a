using Gateway.Core.Diagnostics;
using Gateway.Core.Routing;

namespace Gateway.UnitTests.Outbox;

public sealed class StoredPerRouteTests : IAsyncLifetime
{
    private static readonly RouteTable TwoRoutes = new(
        [new Route("a/#", "up", new RouteTarget()), new Route("b/#", "up", new RouteTarget())], ["up"]);

    private readonly OutboxFolder _folder = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    [Fact]
    public async Task Messages_stored_are_counted_per_first_route_also_when_one_group_commit_mixes_routes()
    {
        var sync = new GatedDiskSync();
        var outbox = _folder.Open(TwoRoutes, sync: sync);
        await outbox.AppendAsync(OutboxFolder.Message("a/0"));
        sync.Entered.Reset();
        sync.Close();
        Task<long>[] appends;
        try
        {
            var held = outbox.AppendAsync(OutboxFolder.Message("b/0")).AsTask();
            await Poll.UntilAsync(() => sync.Entered.IsSet); // the writer waits in that commit: the rest queue up as one group
            appends = [held, .. await Task.WhenAll(new[] { "a/1", "a/2", "b/1", "c/1", "a/3" }.Select(async t => await outbox.EnqueueAsync(OutboxFolder.Message(t))))];
        }
        finally
        {
            sync.Open();
        }
        await Task.WhenAll(appends).WaitAsync(Patience.Reaction);

        Assert.Equal(4, _folder.Metrics.Get("messages_stored_total", "a/#"));
        Assert.Equal(2, _folder.Metrics.Get("messages_stored_total", "b/#"));
        Assert.Equal(1, _folder.Metrics.Get("messages_stored_total", MetricCatalog.NoRoute));
        Assert.Equal(7, _folder.Metrics.Get("messages_stored_total"));
    }
}
