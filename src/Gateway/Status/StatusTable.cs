using System.Globalization;
using System.Text;

namespace Gateway.Status;

/// <summary>The status as plain-text tables for a terminal: upstreams, routes, rates, disk, connections, faults.</summary>
public static class StatusTable
{
    /// <summary>Faults printed; the page and the JSON have the rest.</summary>
    private const int FaultsShown = 5;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(StatusReport s)
    {
        var text = new StringBuilder();
        text.Append(Invariant, $"Gateway {s.GatewayId}, as of {Time(s.TakenAt)} UTC, up {Duration((s.TakenAt - s.StartedAt).TotalSeconds)}\n\n");

        if (s.Upstreams.Length == 0) text.Append("No upstream configured: the gateway stores only.\n");
        else
        {
            AppendTable(text, ["UPSTREAM", "LINK", "SINCE", "ENDPOINT", "WAITING", "BYTES", "OLDEST", "DRAIN ETA", "FWD/S"],
                s.Upstreams.Select(u => new[]
                {
                    u.Name, u.State + (u.BlockedReason is { } why ? $" ({why})" : ""), Time(u.Since), u.Endpoint,
                    Approx(u.Backlog.Exact) + Count(u.Backlog.Messages), Bytes(u.Backlog.Bytes), Duration(u.Backlog.OldestAgeSeconds),
                    DrainEta(u),
                    u.ForwardPerSecond.ToString("0", Invariant),
                }));
            foreach (var u in s.Upstreams.Where(u => u.LastError is not null))
                text.Append(Invariant, $"  {u.Name}: last error at {Time(u.LastError!.At)}: {u.LastError.Message}\n");
        }

        if (s.Routes.Length > 0)
        {
            text.Append('\n');
            AppendTable(text, ["ROUTE", "UPSTREAM", "WAITING", "BYTES"],
                s.Routes.Select(r => new[] { r.Filter, r.Upstream, Approx(r.Exact) + Count(r.Messages), Bytes(r.Bytes) }));
        }

        text.Append(Invariant, $"\nRates    in {s.Rates.IngestPerSecond:0}/s, forwarded {s.Rates.ForwardPerSecond:0}/s\n");
        var d = s.Disk;
        text.Append(Invariant, $"Store    {Count(d.StoreMessages)} of {Count(d.MaxMessages)} messages, {Bytes(d.StoreBytes)} of {Bytes(d.MaxBytes)}\n");
        text.Append(Invariant, $"Disk     {Bytes(d.FreeBytes)} free, new messages refused below {Bytes(d.MinFreeBytes)}{(d.Refusing ? ": REFUSING NOW" : "")}\n");
        text.Append(Invariant, $"Clients  MQTT {s.Connections.Mqtt}, STOMP {s.Connections.Stomp}\n");
        if (s.Connections.Clients.Length > 0)
        {
            text.Append('\n');
            AppendTable(text, ["CLIENT", "PROTOCOL", "FROM", "SINCE"],
                s.Connections.Clients.Select(c => new[] { c.Id, c.Protocol, c.Endpoint, Time(c.ConnectedAt) }));
        }

        if (s.Faults.Length > 0)
        {
            text.Append("\nLast faults\n");
            foreach (var f in s.Faults.Take(FaultsShown))
                text.Append(Invariant, $"  {Time(f.At)}  {f.Kind}{(f.Repeats > 1 ? $" (x{f.Repeats})" : "")}: {f.Message}\n");
        }
        return text.ToString();
    }

    private static void AppendTable(StringBuilder text, string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(headers).ToList();
        var widths = headers.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++)
            {
                if (i < row.Length - 1) text.Append(row[i].PadRight(widths[i] + 2));
                else text.Append(row[i]);
            }
            text.Append('\n');
        }
    }

    /// <summary>A backlog that holds while messages flow out is being kept up with; one that holds with none flowing is stuck.</summary>
    private static string DrainEta(UpstreamStatus u) => u.Backlog switch
    {
        { DrainEtaSeconds: { } eta } => Duration(eta),
        { Messages: 0 } => "-",
        _ => u.ForwardPerSecond > 0 ? "keeping up" : "not draining",
    };

    private static string Approx(bool exact) => exact ? "" : "~";

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss", Invariant);

    private static string Count(long n) => n.ToString("N0", Invariant);

    internal static string Bytes(long n)
    {
        if (n < 0) return "unknown";
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = n;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? $"{n} B" : value.ToString("0.0", Invariant) + " " + units[unit];
    }

    internal static string Duration(double? seconds) => seconds switch
    {
        null => "-",
        < 60 => seconds.Value.ToString("0", Invariant) + " s",
        < 3600 => $"{(int)(seconds / 60)} min {(int)(seconds % 60)} s",
        _ => $"{(int)(seconds / 3600)} h {(int)(seconds % 3600 / 60)} min",
    };
}
