using System.Globalization;

namespace Gateway.Stomp;

/// <summary>Heart-beat negotiation (STOMP 1.2, "Heart-beating").</summary>
public static class StompHeartbeat
{
    /// <summary>
    /// The effective intervals for one side, from its own <c>heart-beat</c> header (x: can send every x ms,
    /// y: wants to receive every y ms) and the peer's. 0 means none in that direction.
    /// </summary>
    public static (TimeSpan Send, TimeSpan Receive) Negotiate((int X, int Y) own, (int X, int Y) peer)
    {
        var send = own.X == 0 || peer.Y == 0 ? 0 : Math.Max(own.X, peer.Y);
        var receive = own.Y == 0 || peer.X == 0 ? 0 : Math.Max(own.Y, peer.X);
        return (TimeSpan.FromMilliseconds(send), TimeSpan.FromMilliseconds(receive));
    }

    /// <summary>Parses a <c>heart-beat</c> header value (<c>"10000,10000"</c>); absent means <c>0,0</c>.</summary>
    public static (int X, int Y) Parse(string? header)
    {
        if (string.IsNullOrEmpty(header)) return (0, 0);
        var parts = header.Split(',');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var x)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var y))
        {
            throw new StompProtocolException($"heart-beat header '{header}' is not two non-negative integers");
        }
        return (x, y);
    }

    public static string Format((int X, int Y) value) => string.Create(CultureInfo.InvariantCulture, $"{value.X},{value.Y}");
}
