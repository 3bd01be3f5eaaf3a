using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>Opens the outbox before anything can publish, and closes it last: the group in flight is committed, then the files.</summary>
internal sealed class OutboxService(LiteDbOutbox outbox) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        outbox.Open();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await outbox.DisposeAsync().ConfigureAwait(false);
}
