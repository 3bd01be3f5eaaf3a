using Gateway.Core.Forwarding;
using Gateway.Core.Routing;
using RabbitMQ.Client;

namespace Gateway.Upstreams.RabbitMq;

/// <summary>Opens publisher-confirm channels to a RabbitMQ upstream and prepares the routes' exchanges.</summary>
public sealed class RabbitMqConnector : IUpstreamConnector
{
    /// <summary>
    /// Connecting, opening the channel and checking the exchanges together. A frozen broker still
    /// completes the TCP handshake (the kernel does that), then answers nothing; without a bound
    /// the walk to the next endpoint would wait on the client's own 20-30 s timeouts.
    /// </summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a half-made connection may take to close before it is left to finish alone.</summary>
    private static readonly TimeSpan AbandonAfter = TimeSpan.FromSeconds(1);

    private readonly RabbitMqUpstreamOptions _options;
    private readonly IReadOnlyList<Route> _routes;

    public RabbitMqConnector(RabbitMqUpstreamOptions options, IEnumerable<Route> routes)
    {
        if (options.Endpoints.Count == 0) throw new ArgumentException($"upstream '{options.Name}' has no endpoints");
        _options = options;
        _routes = routes.Where(r => r.Upstream == options.Name).ToArray();
        Endpoints = options.Endpoints.Select(Printable).ToArray();
    }

    public string Name => _options.Name;

    public IReadOnlyList<string> Endpoints { get; }

    public async Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken)
    {
        var endpoint = _options.Endpoints[endpointIndex];
        var factory = new ConnectionFactory
        {
            Uri = endpoint,
            // The forwarder supervises the link itself (endpoints, backoff, stall detection): the
            // client's own recovery would hide failures from it and replay topology behind its back.
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedHeartbeat = _options.Heartbeat,
            ClientProvidedName = _options.ClientName,
        };
        if (_options.UserName is not null) factory.UserName = _options.UserName;
        if (_options.Password is not null) factory.Password = _options.Password;
        if (factory.Ssl.Enabled)
        {
            factory.Ssl.ServerName = endpoint.Host;
            factory.Ssl.CertificateValidationCallback = _options.Tls.CreateCallback();
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (Tls.TlsSettings.Explain(ex, endpoint.Host, factory.Port) is { } tls)
        {
            throw tls;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(endpoint, factory.Port, ex);
        }
        try
        {
            // Confirms tracked by the client, no rate limiter: each publish task completes on its own
            // ack, and the forwarder already bounds what is outstanding to one batch.
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                timeout.Token).ConfigureAwait(false);
            await PrepareExchangesAsync(channel, timeout.Token).ConfigureAwait(false);
            return new RabbitMqLink(connection, channel, _options.GatewayId);
        }
        catch (Exception ex)
        {
            await CloseOrAbandonAsync(connection).ConfigureAwait(false);
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested) throw TimedOut(endpoint, factory.Port, ex);
            throw;
        }
    }

    private static TimeoutException TimedOut(Uri endpoint, int port, Exception inner) =>
        new($"no AMQP connection to {endpoint.Host}:{port} within {ConnectTimeout.TotalSeconds:0} s", inner);

    /// <summary>Closes a connection that will not be used; a broker that does not answer is not waited for.</summary>
    private static async Task CloseOrAbandonAsync(IConnection connection)
    {
        var closing = connection.DisposeAsync().AsTask();
        try
        {
            await closing.WaitAsync(AbandonAfter).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // a failed or abandoned close changes nothing: the connect failed either way
            _ = closing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    private async Task PrepareExchangesAsync(IChannel channel, CancellationToken cancellationToken)
    {
        foreach (var group in _routes.GroupBy(r => r.Target.Exchange ?? ""))
        {
            var exchange = group.Key;
            if (exchange.Length == 0) continue; // the default exchange always exists and cannot be declared
            var declaring = group.FirstOrDefault(r => r.Target.DeclareExchange);
            try
            {
                if (declaring is not null)
                {
                    var type = declaring.Target.ExchangeType switch
                    {
                        Core.Routing.ExchangeType.Direct => RabbitMQ.Client.ExchangeType.Direct,
                        Core.Routing.ExchangeType.Fanout => RabbitMQ.Client.ExchangeType.Fanout,
                        _ => RabbitMQ.Client.ExchangeType.Topic,
                    };
                    await channel.ExchangeDeclareAsync(exchange, type, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await channel.ExchangeDeclarePassiveAsync(exchange, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var what = declaring is null ? "does not exist (checked passively; set DeclareExchange to create it)" : "could not be declared";
                throw new InvalidOperationException($"exchange '{exchange}' {what}: {ex.Message}", ex);
            }
        }
    }

    /// <summary>The endpoint without user info, fit for logs and metrics.</summary>
    private static string Printable(Uri uri) => new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString();
}
