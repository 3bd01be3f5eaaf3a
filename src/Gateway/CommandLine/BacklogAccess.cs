using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Gateway.Backlog;
using Gateway.Core.Diagnostics;
using Gateway.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.CommandLine;

/// <summary>The backlog, through the running gateway's admin API or on a stopped gateway's store.</summary>
internal interface IBacklogAccess : IAsyncDisposable
{
    /// <summary>Said on stderr before the command's output, so the operator knows which it is.</summary>
    string Mode { get; }

    Task<BacklogPage> ListAsync(BacklogQuery query, CancellationToken cancellationToken);

    Task<BacklogEntry?> ShowAsync(long sequence, CancellationToken cancellationToken);

    Task<PurgeResult> PurgeAsync(PurgeRequest request, CancellationToken cancellationToken);
}

/// <summary>A command could not be carried out; the message is the one line printed.</summary>
internal sealed class CommandFailedException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal static class BacklogAccess
{
    /// <summary>How long the command line waits for the gateway to answer that it runs.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The running gateway's admin API when it answers on the configured HTTP port; the store itself
    /// when nothing listens there. A store held by another process (a gateway whose API is elsewhere)
    /// is never opened beside it: the store's files are opened exclusively.
    /// </summary>
    /// <param name="location">Where the gateway is.</param>
    /// <param name="write">Whether the command writes (a purge): only then is a stopped gateway's store opened with its writer.</param>
    /// <param name="cancellationToken">Stops the probe.</param>
    public static async Task<IBacklogAccess> ConnectAsync(GatewayLocation location, bool write, CancellationToken cancellationToken)
    {
        var http = new HttpClient { BaseAddress = location.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            probe.CancelAfter(ProbeTimeout);
            using var answer = await http.GetAsync($"{Hosting.BacklogEndpoints.Prefix}?limit=1", probe.Token).ConfigureAwait(false);
            await RemoteBacklog.ThrowOnProblemAsync(answer, cancellationToken).ConfigureAwait(false);
            return new RemoteBacklog(http);
        }
        catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            http.Dispose();
            return OpenStore(location, write);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            http.Dispose();
            throw new CommandFailedException($"the gateway at {location.BaseAddress} does not answer: {ex.Message}");
        }
    }

    private static LocalBacklog OpenStore(GatewayLocation location, bool write)
    {
        if (!File.Exists(location.StoreFile))
            throw new CommandFailedException($"no gateway answers at {location.BaseAddress} and there is no store at {location.StoreFile} (check Gateway:DataPath and Gateway:Http:Port, or --config)");
        var options = location.Options;
        var outbox = new LiteDbOutbox(options.Outbox, Configuration.GatewayConfiguration.BuildRouteTable(options), new GatewayMetrics(), NullLogger<LiteDbOutbox>.Instance);
        try
        {
            if (write) outbox.Open(); // the command is then the store's one writer, as the gateway would be
            else outbox.OpenToRead();
        }
        catch (IOException ex)
        {
            // FileShare.None: a running gateway's store is never opened beside it.
            throw new CommandFailedException($"no gateway answers at {location.BaseAddress}, and the store {location.StoreFile} is held by another process (a gateway with another HTTP port?): {ex.Message}");
        }
        catch (LiteDB.LiteException ex)
        {
            throw new CommandFailedException($"the store {location.StoreFile} cannot be read: {ex.Message}");
        }
        return new LocalBacklog(outbox, new BacklogReader(outbox, Configuration.GatewayConfiguration.BuildRouteTable(options)), location.StoreFile, write);
    }
}

/// <summary>The running gateway's admin API.</summary>
internal sealed class RemoteBacklog(HttpClient http) : IBacklogAccess
{
    public string Mode => $"running gateway at {http.BaseAddress} (admin API)";

    public async Task<BacklogPage> ListAsync(BacklogQuery q, CancellationToken cancellationToken)
    {
        var query = $"?from={q.From}&limit={q.Limit}&details={(q.Details ? "true" : "false")}"
                    + (q.Route is null ? "" : $"&route={Uri.EscapeDataString(q.Route)}")
                    + (q.Upstream is null ? "" : $"&upstream={Uri.EscapeDataString(q.Upstream)}");
        using var answer = await http.GetAsync(Hosting.BacklogEndpoints.Prefix + query, cancellationToken).ConfigureAwait(false);
        await ThrowOnProblemAsync(answer, cancellationToken).ConfigureAwait(false);
        return (await answer.Content.ReadFromJsonAsync(BacklogJson.Default.BacklogPage, cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<BacklogEntry?> ShowAsync(long sequence, CancellationToken cancellationToken)
    {
        using var answer = await http.GetAsync($"{Hosting.BacklogEndpoints.Prefix}/{sequence}", cancellationToken).ConfigureAwait(false);
        if (answer.StatusCode == HttpStatusCode.NotFound) return null;
        await ThrowOnProblemAsync(answer, cancellationToken).ConfigureAwait(false);
        return await answer.Content.ReadFromJsonAsync(BacklogJson.Default.BacklogEntry, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PurgeResult> PurgeAsync(PurgeRequest request, CancellationToken cancellationToken)
    {
        using var answer = await http.PostAsJsonAsync($"{Hosting.BacklogEndpoints.Prefix}/purge", request, BacklogJson.Default.PurgeRequest, cancellationToken).ConfigureAwait(false);
        await ThrowOnProblemAsync(answer, cancellationToken).ConfigureAwait(false);
        return (await answer.Content.ReadFromJsonAsync(BacklogJson.Default.PurgeResult, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>The API's own one-line error, when it answered with one.</summary>
    public static async Task ThrowOnProblemAsync(HttpResponseMessage answer, CancellationToken cancellationToken)
    {
        if (answer.IsSuccessStatusCode) return;
        string? error = null;
        try
        {
            error = (await answer.Content.ReadFromJsonAsync(BacklogJson.Default.BacklogProblem, cancellationToken).ConfigureAwait(false))?.Error;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not the API's answer (another program on the port?): the status says enough.
        }
        var exit = answer.StatusCode == HttpStatusCode.BadRequest ? 2 : 1;
        throw new CommandFailedException(error ?? $"the gateway answered {(int)answer.StatusCode} {answer.ReasonPhrase}", exit);
    }

    public ValueTask DisposeAsync()
    {
        http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A stopped gateway's store, opened by the command line as the gateway would open it.</summary>
internal sealed class LocalBacklog(LiteDbOutbox outbox, BacklogReader reader, string storeFile, bool write) : IBacklogAccess
{
    public string Mode => $"stopped gateway's store {storeFile} ({(write ? "opened with its writer" : "read only")})";

    public Task<BacklogPage> ListAsync(BacklogQuery query, CancellationToken cancellationToken) => Run(() => reader.List(query));

    public Task<BacklogEntry?> ShowAsync(long sequence, CancellationToken cancellationToken) => Run(() => reader.Show(sequence));

    public async Task<PurgeResult> PurgeAsync(PurgeRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.PurgeAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (BacklogRequestException ex)
        {
            throw new CommandFailedException(ex.Message, 2);
        }
    }

    private static Task<T> Run<T>(Func<T> read)
    {
        try
        {
            return Task.FromResult(read());
        }
        catch (BacklogRequestException ex)
        {
            throw new CommandFailedException(ex.Message, 2);
        }
    }

    public ValueTask DisposeAsync() => outbox.DisposeAsync();
}
