namespace Gateway.Stomp;

/// <summary>The frames of STOMP 1.2 (client frames, then server frames).</summary>
public enum StompCommand
{
    Connect,
    Stomp,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Connected,
    Message,
    Receipt,
    Error,
}

internal static class StompCommands
{
    private static readonly (StompCommand Command, byte[] Name)[] Names =
        Enum.GetValues<StompCommand>().Select(c => (c, System.Text.Encoding.ASCII.GetBytes(c.ToString().ToUpperInvariant()))).ToArray();

    public static ReadOnlySpan<byte> NameOf(StompCommand command) => Names[(int)command].Name;

    public static bool TryParse(ReadOnlySpan<byte> name, out StompCommand command)
    {
        foreach (var (c, bytes) in Names)
        {
            if (name.SequenceEqual(bytes))
            {
                command = c;
                return true;
            }
        }
        command = default;
        return false;
    }

    /// <summary>STOMP 1.2 "Value Encoding": CONNECT and CONNECTED headers are not escaped, for 1.0 clients' sake.</summary>
    public static bool EscapesHeaders(StompCommand command) => command is not (StompCommand.Connect or StompCommand.Connected);
}
