using System.Net.Security;
using System.Net.Sockets;
using Gateway.Core.Forwarding;
using Gateway.Core.Routing;
using Gateway.Stomp;
using Gateway.Upstreams.Tls;

namespace Gateway.Upstreams.ActiveMq;

/// <summary>Opens STOMP 1.2 connections (plain or TLS) to an ActiveMQ upstream.</summary>
public sealed class ActiveMqConnector : IUpstreamConnector
{
    private readonly ActiveMqUpstreamOptions _options;

    public ActiveMqConnector(ActiveMqUpstreamOptions options)
    {
        if (options.Endpoints.Count == 0) throw new ArgumentException($"upstream '{options.Name}' has no endpoints");
        foreach (var endpoint in options.Endpoints)
        {
            if (endpoint.Scheme is not ("stomp" or "stomp+ssl"))
                throw new ArgumentException($"upstream '{options.Name}': '{endpoint}' is not a stomp:// or stomp+ssl:// URI");
        }
        _options = options;
        Endpoints = options.Endpoints.Select(e => $"{e.Scheme}://{e.Host}:{PortOf(e)}").ToArray();
    }

    public string Name => _options.Name;

    public IReadOnlyList<string> Endpoints { get; }

    public async Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken)
    {
        var endpoint = _options.Endpoints[endpointIndex];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);

        var tcp = new TcpClient { NoDelay = true };
        Stream stream;
        try
        {
            await tcp.ConnectAsync(endpoint.Host, PortOf(endpoint), timeout.Token).ConfigureAwait(false);
            stream = tcp.GetStream();
            if (endpoint.Scheme == "stomp+ssl")
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = endpoint.Host,
                    RemoteCertificateValidationCallback = _options.Tls.CreateCallback(),
                }, timeout.Token).ConfigureAwait(false);
                stream = tls;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            tcp.Dispose();
            throw Explain(ex, endpoint);
        }

        try
        {
            var connection = await StompClientConnection.ConnectAsync(stream, new StompConnectOptions
            {
                // ActiveMQ ignores the virtual host; Amazon MQ expects the broker's host name here.
                Host = endpoint.Host,
                Login = _options.UserName ?? NullIfEmpty(Uri.UnescapeDataString(endpoint.UserInfo.Split(':')[0])),
                Passcode = _options.Password ?? (endpoint.UserInfo.Contains(':') ? Uri.UnescapeDataString(endpoint.UserInfo[(endpoint.UserInfo.IndexOf(':') + 1)..]) : null),
                Heartbeat = _options.Heartbeat,
            }, timeout.Token).ConfigureAwait(false);
            return new ActiveMqLink(connection, tcp);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            tcp.Dispose();
            throw Explain(ex, endpoint);
        }
    }

    /// <summary>The URI's port, or STOMP's usual one: 61613 plain, 61614 TLS (as Amazon MQ uses).</summary>
    private static int PortOf(Uri endpoint) => endpoint.Port > 0 ? endpoint.Port : endpoint.Scheme == "stomp+ssl" ? 61614 : 61613;

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    /// <summary>Names the cause an operator can act on: a refused port, a certificate that is not trusted, a timeout.</summary>
    private Exception Explain(Exception ex, Uri endpoint) =>
        TlsSettings.Explain(ex, endpoint.Host, PortOf(endpoint)) ?? (ex is OperationCanceledException
            ? new TimeoutException($"no connection to {endpoint.Host}:{PortOf(endpoint)} within {_options.ConnectTimeout.TotalSeconds:0} s", ex)
            : ex);

    /// <summary>The STOMP destination for a message: the route's, or <c>/topic/</c> plus the topic with <c>/</c> and <c>.</c> swapped.</summary>
    public static string DestinationFor(Route route, string topic) =>
        route.Target.Destination ?? "/topic/" + TopicMapping.MqttTopicToDotted(topic);
}
