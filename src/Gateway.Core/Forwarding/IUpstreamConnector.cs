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
/// <remarks>
/// Disposing it must not wait on the broker for long: a frozen broker answers nothing, and the
/// forwarder fails over only once the old link is closed (it gives up waiting after a few seconds).
/// </remarks>
public interface IUpstreamLink : IAsyncDisposable
{
    /// <summary>
    /// Cancelled as soon as the link is known dead (closed by the broker, heartbeats missed, socket
    /// broken), whether or not a batch is in flight, so health shows it and failover starts at once.
    /// </summary>
    CancellationToken Lost { get; }

    /// <summary>Why the link was lost, once <see cref="Lost"/> is cancelled.</summary>
    string? LostBecause { get; }

    /// <summary>
    /// The broker's flow control, where the broker announces it (RabbitMQ's <c>connection.blocked</c>);
    /// null for a broker that never does. While blocked, a batch waiting for confirms is not stalled.
    /// </summary>
    LinkFlow? Flow => null;

    /// <summary>
    /// Sends the batch pipelined and completes once the upstream confirmed every message in it.
    /// Throws if any message was refused, returned or not confirmed: the whole batch is then sent again.
    /// </summary>
    /// <param name="batch">The messages, in order.</param>
    /// <param name="progressed">
    /// Called whenever the upstream shows progress on the batch (a confirm arrived): the forwarder
    /// measures a stall from the last progress, so a slow broker that still confirms is not a stall.
    /// </param>
    /// <param name="cancellationToken">Gives up on the batch (stall, link lost, shutdown).</param>
    Task SendBatchAsync(IReadOnlyList<Delivery> batch, Action progressed, CancellationToken cancellationToken);
}

/// <summary>One message on its way to one route's destination.</summary>
public readonly record struct Delivery(StoredMessage Stored, Route Route, string MessageId);
