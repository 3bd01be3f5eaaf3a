namespace Gateway.Core.Diagnostics;

/// <summary>
/// Counts one protocol's client connections into <c>connections_open</c> and <c>connections_total</c>
/// (label <c>protocol</c>: <c>mqtt</c>, <c>mqtt-ws</c>, <c>stomp</c>, <c>stomp-ws</c>).
/// </summary>
public sealed class ConnectionCount(GatewayMetrics metrics, string protocol)
{
    /// <summary>Counts a connection open until the returned scope is disposed (when it ends, however it ends).</summary>
    public Scope Open()
    {
        metrics.Increment("connections_total", protocol);
        metrics.Increment("connections_open", protocol);
        return new Scope(this);
    }

    public readonly struct Scope(ConnectionCount count) : IDisposable
    {
        public void Dispose() => count?.Close();
    }

    private void Close() => metrics.Increment("connections_open", protocol, -1);
}
