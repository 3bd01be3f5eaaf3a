using Gateway.Core.Outbox;

namespace Gateway.Core.Ingest;

/// <summary>What to do with an ack that is about to leave.</summary>
public enum AckAction
{
    /// <summary>Let it go: its message is stored (and delivered locally), or its answer was settled on arrival.</summary>
    Send,

    /// <summary>Let it go carrying a refusal (<see cref="AckVerdict{TMessage}.Rejection"/>): only where acks carry reason codes (MQTT 5).</summary>
    SendRefusal,

    /// <summary>Do not send it: the client keeps the message and sends it again.</summary>
    Withhold,

    /// <summary>Do not send it, nor any ack after it, and close the connection.</summary>
    WithholdAndClose,
}

/// <summary>How a publish refused on arrival is answered.</summary>
public enum ArrivalRefusal
{
    /// <summary>A reason code on its ack (MQTT 5); the connection stays.</summary>
    ReasonCode,

    /// <summary>Its ack is not sent: the connection is closed at its turn, once the acks before it have left.</summary>
    CloseAtItsTurn,

    /// <summary>No ack of its own (QoS 0): the connection is closed once the acks waiting before it have left.</summary>
    CloseAfterEarlierAcks,

    /// <summary>No ack of its own and none waiting: the connection is closed at once.</summary>
    CloseNow,
}

/// <summary>
/// The answer for one ack. <see cref="Rejection"/> is the outbox's refusal of its message, if any;
/// <see cref="Message"/> the message it was held for; <see cref="StoreWait"/> how long the ack
/// waited for the commit, when it did.
/// </summary>
public readonly record struct AckVerdict<TMessage>(
    AckAction Action,
    OutboxRejectedException? Rejection = null,
    TMessage? Message = default,
    TimeSpan? StoreWait = null);
