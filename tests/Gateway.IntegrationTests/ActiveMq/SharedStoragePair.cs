using Gateway.Stomp;

namespace Gateway.IntegrationTests.ActiveMq;

/// <summary>
/// Amazon MQ's ActiveMQ active/standby pair as it really is: two brokers on one shared KahaDB folder.
/// The active holds the store's file lock and listens; the standby waits on the lock with its
/// transports closed and opens them once the active is gone, with the same messages.
/// </summary>
public sealed class SharedStoragePair : IAsyncDisposable
{
    private readonly string _store;

    private SharedStoragePair(string store, ActiveMqBroker active, ActiveMqBroker standby)
    {
        _store = store;
        Active = active;
        Standby = standby;
    }

    public ActiveMqBroker Active { get; }
    public ActiveMqBroker Standby { get; }

    /// <summary>The active first, open; then the standby, once it says it waits on the lock.</summary>
    public static async Task<SharedStoragePair> StartAsync()
    {
        var store = Directory.CreateTempSubdirectory("activemq-shared-").FullName;
        var active = ActiveMqBroker.LaunchOnSharedStore(store);
        ActiveMqBroker? standby = null;
        try
        {
            await active.WaitUntilOpenAsync(Patience.Startup);
            standby = ActiveMqBroker.LaunchOnSharedStore(store);
            await Poll.UntilAsync(() => standby.WaitsOnLock, Patience.Startup, "the standby to wait on the shared store's lock");
            return new SharedStoragePair(store, active, standby);
        }
        catch
        {
            await active.DisposeAsync();
            if (standby is not null) await standby.DisposeAsync();
            try { Directory.Delete(store, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>
    /// Consumes <paramref name="destination"/> on <paramref name="broker"/> until every one of
    /// <paramref name="bodies"/> has arrived (copies included as they come), within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<List<StompFrame>> ReadAllOfAsync(ActiveMqBroker broker, string destination, IReadOnlyCollection<string> bodies, TimeSpan timeout)
    {
        await using var consumer = await broker.SubscribeAsync(destination);
        var missing = bodies.ToHashSet();
        var frames = new List<StompFrame>();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (missing.Count > 0)
            {
                var frame = await consumer.Messages.ReadAsync(deadline.Token);
                frames.Add(frame);
                missing.Remove(System.Text.Encoding.UTF8.GetString(frame.Body.Span));
            }
        }
        catch (OperationCanceledException)
        {
            // returned as it is: the test names what is missing
        }
        return frames;
    }

    public async ValueTask DisposeAsync()
    {
        await Active.DisposeAsync();
        await Standby.DisposeAsync();
        try { Directory.Delete(_store, recursive: true); } catch (IOException) { }
    }
}
