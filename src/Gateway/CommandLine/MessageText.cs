using System.Text;
using Gateway.Backlog;

namespace Gateway.CommandLine;

/// <summary>One message as <c>backlog show</c> prints it.</summary>
internal static class MessageText
{
    /// <summary>Bytes per line of a hex dump.</summary>
    private const int HexWidth = 16;

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    public static string Describe(BacklogEntry m)
    {
        var text = new StringBuilder();
        void Line(string name, object? value)
        {
            if (value is not null) text.Append($"{name + ":",-16}{value}\n");
        }
        Line("sequence", m.Sequence);
        Line("topic", m.Topic);
        Line("received", $"{m.ReceivedAt:yyyy-MM-ddTHH:mm:ss.fffzzz} ({m.AgeSeconds:0.0} s ago)");
        Line("client", m.ClientId);
        Line("qos", m.Qos);
        Line("retain", m.Retain);
        Line("content type", m.ContentType);
        Line("response topic", m.ResponseTopic);
        Line("correlation", m.CorrelationData is { } c ? Convert.ToHexString(Convert.FromBase64String(c)) : null);
        Line("expires", m.ExpiresAt?.ToString("yyyy-MM-ddTHH:mm:ss.fffzzz"));
        foreach (var (key, value) in m.UserProperties ?? []) Line($"property {key}", value);
        Line("owed by", m.OwedBy.Length == 0 ? "-" : string.Join(", ", m.OwedBy));
        Line("size", $"{m.Size} bytes");
        var payload = Convert.FromBase64String(m.Payload ?? "");
        if (AsText(payload) is { } readable)
        {
            text.Append("payload (text):\n").Append(readable).Append('\n');
        }
        else
        {
            text.Append("payload (hex):\n");
            for (var i = 0; i < payload.Length; i += HexWidth)
            {
                var row = payload.AsSpan(i, Math.Min(HexWidth, payload.Length - i));
                text.Append($"{i:x8}  {Convert.ToHexString(row).ToLowerInvariant()}\n");
            }
        }
        return text.ToString();
    }

    /// <summary>The payload as text when it is valid UTF-8 without control characters other than white space.</summary>
    private static string? AsText(byte[] payload)
    {
        try
        {
            var text = StrictUtf8.GetString(payload);
            return text.Any(ch => char.IsControl(ch) && ch is not ('\n' or '\r' or '\t')) ? null : text;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
