namespace Gateway.Stomp;

/// <summary>One STOMP frame: a command, headers in wire order (a name may repeat), and a body.</summary>
/// <remarks>A class, not a struct: frames travel through queues and tasks, and copying the header list around buys nothing.</remarks>
public sealed class StompFrame(StompCommand command, IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body = default)
{
    public StompCommand Command { get; } = command;

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; } = headers;

    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>A header's value; when a name repeats, the first occurrence wins (STOMP 1.2, "Repeated Header Entries").</summary>
    public string? this[string name]
    {
        get
        {
            foreach (var (key, value) in Headers)
            {
                if (key == name) return value;
            }
            return null;
        }
    }

    public static StompFrame Create(StompCommand command, params (string Name, string Value)[] headers) =>
        new(command, headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).ToArray());

    public static StompFrame Create(StompCommand command, ReadOnlyMemory<byte> body, params (string Name, string Value)[] headers) =>
        new(command, headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)).ToArray(), body);

    public override string ToString() => $"{Command} ({Headers.Count} headers, {Body.Length} bytes)";
}
