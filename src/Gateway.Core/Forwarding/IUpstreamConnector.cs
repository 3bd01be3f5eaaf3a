using Gateway.Core.Messages;
using Gateway.Core.Routing;

namespace Gateway.Core.Forwarding;

/// <summary>Opens links to one upstream broker. Implemented per broker kind (RabbitMQ, ActiveMQ).</summary>
public interface IUpstreamConnector
{
    /// <summary>The configured upstream name routes refer to.</summary>
    string Name { get; }

    /// <summary>The endpoints to walk, in order (an active/standby pair has two). Printable: no secrets.</summary>
    IReadOnlyList<string> Endpoints { get; }

    /// <summary>Connects to one endpoint and prepares what the routes need (e.g. declares exchanges).</summary>
    Task<IUpstreamLink> ConnectAsync(int endpointIndex, CancellationToken cancellationToken);
}

/// <summary>One live connection to an upstream.</summary>
public interface IUpstreamLink : IAsyncDisposable
{
    /// <summary>
    /// Sends the batch pipelined and completes once the upstream confirmed every message in it.
    /// Throws if any message was refused, returned or not confirmed: the whole batch is then sent again.
    /// </summary>
    Task SendBatchAsync(IReadOnlyList<Delivery> batch, CancellationToken cancellationToken);
}

/// <summary>One message on its way to one route's destination.</summary>
public readonly record struct Delivery(StoredMessage Stored, Route Route, string MessageId);
