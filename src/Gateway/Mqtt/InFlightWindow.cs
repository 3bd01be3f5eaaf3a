namespace Gateway.Mqtt;

/// <summary>
/// The QoS 1 and 2 PUBLISHes sent to one client and not yet acknowledged, by packet identifier: at most the
/// client's Receive Maximum of them [MQTT-3.3.4-9]. A slot is taken when a PUBLISH goes out and given back by
/// its PUBACK or PUBCOMP, or a PUBREC with a reason code of 0x80 or more (section 4.9). Not thread-safe
/// (its <see cref="OutboundFlow"/> serialises).
/// </summary>
internal sealed class InFlightWindow
{
    /// <summary>What a client that sends no Receive Maximum allows (section 3.1.2.11.3), and MQTT 3.1.1 (no limit but the packet identifiers).</summary>
    public const ushort Unlimited = ushort.MaxValue;

    private readonly HashSet<ushort> _unacknowledged = [];

    public InFlightWindow(ushort receiveMaximum) => Maximum = receiveMaximum == 0 ? Unlimited : receiveMaximum;

    public int Maximum { get; }

    public int Count => _unacknowledged.Count;

    public bool HasRoom => _unacknowledged.Count < Maximum;

    /// <summary>Takes a slot for a PUBLISH about to go out; false when the window is full. A resend of one already counted takes none.</summary>
    public bool TryTake(ushort packetId)
    {
        if (_unacknowledged.Contains(packetId)) return true;
        if (!HasRoom) return false;
        _unacknowledged.Add(packetId);
        return true;
    }

    /// <summary>Gives back the slot of an acknowledged PUBLISH; false for an identifier this window never counted (an earlier connection's).</summary>
    public bool Release(ushort packetId) => _unacknowledged.Remove(packetId);
}
