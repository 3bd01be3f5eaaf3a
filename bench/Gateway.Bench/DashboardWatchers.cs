namespace Gateway.Bench;

/// <summary>
/// Open dashboards during a load: each watcher does what the page at / does, one GET of
/// <c>/api/status/history</c> and then the <c>/api/status/events</c> stream read to its end, counting
/// the snapshots, so a run shows what keeping N dashboards open costs the gateway.
/// </summary>
internal sealed class DashboardWatchers : IAsyncDisposable
{
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _watchers = [];
    private long _snapshots;

    public long Snapshots => Interlocked.Read(ref _snapshots);

    public static async Task<DashboardWatchers> StartAsync(string gatewayHttp, int count)
    {
        var watchers = new DashboardWatchers();
        var baseUri = new Uri(gatewayHttp.TrimEnd('/') + "/");
        for (var i = 0; i < count; i++)
        {
            var history = await watchers._http.GetStringAsync(new Uri(baseUri, "api/status/history"));
            if (!history.StartsWith('[')) throw new InvalidOperationException($"{baseUri}api/status/history did not answer a list");
            var stream = await watchers._http.GetStreamAsync(new Uri(baseUri, "api/status/events"));
            watchers._watchers.Add(Task.Run(() => watchers.ReadAsync(stream)));
        }
        Report.Progress($"{count} dashboard stream(s) open on {baseUri}api/status/events");
        return watchers;
    }

    private async Task ReadAsync(Stream stream)
    {
        using var reader = new StreamReader(stream);
        try
        {
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
                if (line.StartsWith("data: ", StringComparison.Ordinal)) Interlocked.Increment(ref _snapshots);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_watchers);
        _http.Dispose();
        _stop.Dispose();
    }
}
