using System.Globalization;
using System.Net;
using Gateway.Configuration;
using Gateway.Core.Diagnostics;

namespace Gateway.Limits;

/// <summary>
/// Admits or refuses each new connection, on every listener together, before any protocol work: the
/// connections open in all, those open from one address, and the rate at which one address opens them.
/// A connection admitted holds a <see cref="ConnectionLease"/> until it closes.
/// </summary>
/// <remarks>
/// One count for all listeners, not one per protocol: MQTT, STOMP and the WebSockets share the board's
/// memory and file descriptors, and a flood gains nothing by moving to another port.
/// </remarks>
internal sealed class ConnectionLimiter
{
    /// <summary>Addresses remembered before idle ones are forgotten: a bound on memory however many addresses connect.</summary>
    private const int SweepAbove = 4096;

    private readonly LimitsOptions _options;
    private readonly LimitLog _log;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, AddressState> _addresses = [];
    private int _open;

    public ConnectionLimiter(LimitsOptions options, LimitLog log, TimeProvider time, GatewayMetrics metrics)
    {
        _options = options;
        _log = log;
        _time = time;
        metrics.Gauge("connections_admitted", "", () => Volatile.Read(ref _open));
    }

    public int Open => Volatile.Read(ref _open);

    /// <summary>A lease for a new connection from <paramref name="address"/>, or null (counted and logged) when a limit refuses it.</summary>
    /// <param name="listener">The listener, for the log line: <c>MQTT</c>, <c>STOMP</c>, <c>MQTT WebSocket</c>...</param>
    public ConnectionLease? TryAdmit(IPAddress? address, string listener)
    {
        address = address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
        var perAddress = address is not null && !(_options.ExemptLoopback && (address.Equals(IPAddress.Loopback) || address.Equals(IPAddress.IPv6Loopback)));
        string? refusal;
        lock (_gate)
        {
            refusal = perAddress ? RefusalForAddress(address!) : null;
            if (refusal is null && _open >= _options.MaxConnections) refusal = LimitReasons.MaxConnections;
            if (refusal is null)
            {
                _open++;
                if (perAddress) _addresses[address!].Open++;
                return new ConnectionLease(this, perAddress ? address : null);
            }
        }
        _log.Exceeded(refusal, $"{address} ({listener})", Describe(refusal));
        return null;
    }

    /// <summary>Takes a connect token (a refused attempt spends one too: a client retrying flat out stays held off).</summary>
    private string? RefusalForAddress(IPAddress address)
    {
        if (!_addresses.TryGetValue(address, out var state))
        {
            if (_addresses.Count >= SweepAbove) Sweep();
            state = new AddressState(new TokenBucket(_options.ConnectRatePerAddress, _options.ConnectBurstPerAddress, _time));
            _addresses[address] = state;
        }
        if (!state.Connects.TryTake()) return LimitReasons.ConnectRate;
        return state.Open >= _options.MaxConnectionsPerAddress ? LimitReasons.MaxConnectionsPerAddress : null;
    }

    /// <summary>Forgets addresses with nothing open and a full bucket; when even that is not enough, every one with nothing open.</summary>
    private void Sweep()
    {
        foreach (var (address, state) in _addresses)
        {
            if (state.Open == 0 && state.Connects.IsFull()) _addresses.Remove(address);
        }
        if (_addresses.Count < SweepAbove) return;
        foreach (var (address, state) in _addresses)
        {
            if (state.Open == 0) _addresses.Remove(address);
        }
    }

    private void Release(IPAddress? address)
    {
        lock (_gate)
        {
            _open--;
            if (address is not null && _addresses.TryGetValue(address, out var state)) state.Open--;
        }
    }

    private string Describe(string reason) => reason switch
    {
        LimitReasons.ConnectRate => string.Create(CultureInfo.InvariantCulture,
            $"opened connections faster than {_options.ConnectRatePerAddress}/s (burst {_options.ConnectBurstPerAddress}): refused (Gateway:Limits:ConnectRatePerAddress)"),
        LimitReasons.MaxConnectionsPerAddress => $"already has {_options.MaxConnectionsPerAddress} connections open: refused (Gateway:Limits:MaxConnectionsPerAddress)",
        _ => $"refused: {_options.MaxConnections} connections are open in all (Gateway:Limits:MaxConnections)",
    };

    private sealed class AddressState(TokenBucket connects)
    {
        public TokenBucket Connects { get; } = connects;

        public int Open { get; set; }
    }

    /// <summary>One admitted connection; disposing it (once or more) frees its place.</summary>
    internal sealed class ConnectionLease(ConnectionLimiter limiter, IPAddress? address) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) limiter.Release(address);
        }
    }
}
