using Gateway.Storage.LiteDb;

namespace Gateway.Hosting;

/// <summary>
/// Opens the outbox before anything can publish, and closes it last: the group in flight is committed,
/// then the files. If the outbox's writer stops on a fault it does not expect, the gateway stops with
/// exit code 70 (EX_SOFTWARE, as when a forwarder dies), so that systemd restarts it, rather than run on refusing everything.
/// </summary>
internal sealed class OutboxService(LiteDbOutbox outbox, IHostApplicationLifetime lifetime) : IHostedService
{
    public const int PartFailedExitCode = 70;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        outbox.Open();
        outbox.Faulted.ContinueWith(_ =>
        {
            Environment.ExitCode = PartFailedExitCode; // Program returns it once the host has stopped
            lifetime.StopApplication();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await outbox.DisposeAsync().ConfigureAwait(false);
}
