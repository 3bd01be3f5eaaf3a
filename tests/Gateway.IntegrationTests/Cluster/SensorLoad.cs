namespace Gateway.IntegrationTests.Cluster;

/// <summary>
/// Continuous QoS 1 load on one gateway: a few MQTT sensors, each publishing one message after the
/// other (the next once the last was acknowledged, or at a sensor's reporting interval) until stopped. Payloads are
/// <c>"{sensor}:{n}"</c>; what the gateway acknowledged is kept, in order, per sensor.
/// </summary>
internal sealed class SensorLoad : IAsyncDisposable
{
    private readonly List<MqttTestClient> _clients;
    private readonly List<string>[] _acked;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _publishing;
    private readonly TimeSpan? _every;

    private SensorLoad(List<MqttTestClient> clients, string topicPrefix, IReadOnlyList<string> sensors, TimeSpan? every)
    {
        _clients = clients;
        _every = every;
        _acked = sensors.Select(_ => new List<string>()).ToArray();
        _publishing = sensors.Select((sensor, i) => PublishUntilStoppedAsync(clients[i], $"{topicPrefix}/{sensor}", sensor, _acked[i])).ToArray();
    }

    /// <summary>Every acknowledged payload so far, of all sensors.</summary>
    public IReadOnlyList<string> Acked
    {
        get
        {
            var all = new List<string>();
            foreach (var acked in _acked)
            {
                lock (acked) all.AddRange(acked);
            }
            return all;
        }
    }

    /// <param name="every">A sensor's reporting interval; none: as fast as the acknowledgements come.</param>
    public static async Task<SensorLoad> StartAsync(GatewayProcess gateway, string topicPrefix, int sensors, TimeSpan? every = null)
    {
        var names = Enumerable.Range(1, sensors).Select(i => $"{gateway.Id}-s{i}").ToArray();
        var clients = new List<MqttTestClient>();
        foreach (var name in names) clients.Add(await MqttTestClient.ConnectAsync(gateway.MqttPort, name));
        return new SensorLoad(clients, topicPrefix, names, every);
    }

    /// <summary>Stops publishing; a publish the gateway refused or failed fails here.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_publishing);
    }

    private async Task PublishUntilStoppedAsync(MqttTestClient client, string topic, string sensor, List<string> acked)
    {
        await Task.Yield();
        using var interval = _every is { } every ? new PeriodicTimer(every) : null;
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            if (interval is not null && !await NextReportAsync(interval)) break;
            var payload = $"{sensor}:{n}";
            var result = await client.PublishAsync(topic, payload);
            // The upstream being down must never cost an acknowledgement: the outbox takes everything.
            if (!result.IsSuccess) throw new InvalidOperationException($"publish {payload} refused: {result.ReasonCode} {result.ReasonString}");
            lock (acked) acked.Add(payload);
        }
    }

    private async Task<bool> NextReportAsync(PeriodicTimer interval)
    {
        try
        {
            return await interval.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_publishing);
        }
        catch (Exception)
        {
            // reported by StopAsync when the test got that far
        }
        foreach (var client in _clients) await client.DisposeAsync();
        _stop.Dispose();
    }
}
