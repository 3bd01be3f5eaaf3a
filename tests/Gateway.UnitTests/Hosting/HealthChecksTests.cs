using Gateway.Configuration;
using Gateway.Core.Forwarding;
using Gateway.Hosting;
using Gateway.Storage.LiteDb;
using Gateway.UnitTests.Outbox;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Hosting;

/// <summary>
/// The probes read the running parts: a store whose writer died (which the gateway process exits on
/// at once, too quickly to probe from outside) and a listener that stopped accepting.
/// </summary>
public sealed class HealthChecksTests : IAsyncLifetime
{
    private readonly OutboxFolder _folder = new();
    private bool _mqttAccepting = true;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _folder.DisposeAsync().AsTask();

    private HealthChecks Checks(LiteDbOutbox store) => new(
        store,
        new ForwardingService(Array.Empty<Forwarder>(), new GatewayOptions { Id = "gw" }, new NoLifetime(), NullLogger<ForwardingService>.Instance),
        [new ListenerProbe("mqtt", () => _mqttAccepting)],
        new GatewayOptions { Id = "gw" });

    [Fact]
    public async Task A_store_whose_writer_died_makes_the_gateway_neither_alive_nor_ready_and_names_the_fault()
    {
        var sync = new GatedDiskSync();
        var store = _folder.Open(sync: sync);
        await store.AppendAsync(OutboxFolder.Message("t/0"));
        var checks = Checks(store);
        Assert.True(checks.Liveness().Alive);
        Assert.True(checks.Readiness().Ready);

        sync.FailNext = new NullReferenceException("a fault of the gateway's own");
        await Assert.ThrowsAnyAsync<Exception>(() => store.AppendAsync(OutboxFolder.Message("t/1")).AsTask());
        await store.Faulted.WaitAsync(TimeSpan.FromSeconds(15));

        var (live, alive) = checks.Liveness();
        Assert.False(alive);
        Assert.Equal("failed", live.Status);
        Assert.Equal("failed", live.Outbox.Writer);
        Assert.Equal("the outbox's writer stopped: a fault of the gateway's own", live.Fault);
        var (ready, isReady) = checks.Readiness();
        Assert.False(isReady);
        Assert.False(ready.Store.Accepting);
    }

    [Fact]
    public void A_listener_that_stops_accepting_makes_the_gateway_not_alive()
    {
        var checks = Checks(_folder.Open());
        Assert.True(checks.Liveness().Alive);

        _mqttAccepting = false;

        var (report, alive) = checks.Liveness();
        Assert.False(alive);
        Assert.Equal(["the mqtt listener is not accepting connections"], report.Reasons);
        Assert.False(Assert.Single(report.Listeners).Alive);
    }

    private sealed class NoLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
