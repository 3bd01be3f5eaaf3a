namespace Gateway.TestUtilities;

/// <summary>Gateway configuration in its environment-variable form, built up as a test needs it.</summary>
public sealed class GatewaySettings
{
    private readonly Dictionary<string, string> _values = new();
    private int _routes;

    /// <summary>A RabbitMQ upstream, with reconnect delays short enough for tests.</summary>
    public GatewaySettings Upstream(string name, params string[] endpoints)
    {
        for (var i = 0; i < endpoints.Length; i++) _values[$"Gateway__Upstreams__{name}__Endpoints__{i}"] = endpoints[i];
        _values[$"Gateway__Upstreams__{name}__ReconnectMinDelay"] = "00:00:00.200";
        _values[$"Gateway__Upstreams__{name}__ReconnectMaxDelay"] = "00:00:02";
        return this;
    }

    public GatewaySettings Route(string filter, string upstream, string exchange = "amq.topic")
    {
        var i = _routes++;
        _values[$"Gateway__Routes__{i}__Filter"] = filter;
        _values[$"Gateway__Routes__{i}__Upstream"] = upstream;
        _values[$"Gateway__Routes__{i}__Exchange"] = exchange;
        return this;
    }

    public GatewaySettings Set(string key, string value)
    {
        _values[key] = value;
        return this;
    }

    public IReadOnlyDictionary<string, string> Build() => _values;
}
