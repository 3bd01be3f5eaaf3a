namespace Gateway.Stomp;

/// <summary>The peer sent something that is not STOMP 1.2 (or is over a limit). The message is fit for an ERROR frame.</summary>
public sealed class StompProtocolException(string message) : Exception(message);
