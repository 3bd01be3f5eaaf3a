using System.CommandLine;
using System.Text;
using System.Text.Json;
using Gateway.Backlog;

namespace Gateway.CommandLine;

/// <summary><c>gateway backlog list|show|purge|export</c>.</summary>
internal static class BacklogCommands
{
    /// <summary>Messages asked for per page while exporting.</summary>
    private const int ExportPage = 1000;

    /// <summary>From this many stored messages on, an export reports its progress on stderr.</summary>
    private const int ProgressFrom = 10_000;

    public static Command Create(CommandContext context)
    {
        var backlog = new Command("backlog", "The messages waiting in the store: list, show, purge, export.");
        backlog.Subcommands.Add(List(context));
        backlog.Subcommands.Add(Show(context));
        backlog.Subcommands.Add(Purge(context));
        backlog.Subcommands.Add(Export(context));
        return backlog;
    }

    private static Command List(CommandContext context)
    {
        var route = new Option<string>("--route") { Description = "Only messages this route takes: its index in Gateway:Routes or its filter." };
        var upstream = new Option<string>("--upstream") { Description = "Only messages this upstream has still to confirm." };
        var from = new Option<long>("--from") { Description = "The first sequence to list.", DefaultValueFactory = _ => 1 };
        var limit = new Option<int>("--limit") { Description = "Most messages to list.", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "Lists waiting messages, oldest first: sequence, age, size, topic, the upstreams that still owe it.") { route, upstream, from, limit };
        command.SetAction((parse, cancel) => context.WithBacklogAsync(parse, async access =>
        {
            var page = await access.ListAsync(new BacklogQuery(parse.GetValue(route), parse.GetValue(upstream), parse.GetValue(from), parse.GetValue(limit), false), cancel);
            Console.Out.WriteLine($"{"SEQUENCE",10}  {"AGE",9}  {"BYTES",8}  {"OWED BY",-16}  TOPIC");
            foreach (var m in page.Messages)
                Console.Out.WriteLine($"{m.Sequence,10}  {Age(m.AgeSeconds),9}  {m.Size,8}  {(m.OwedBy.Length == 0 ? "-" : string.Join(',', m.OwedBy)),-16}  {m.Topic}");
            Console.Out.WriteLine($"{page.Messages.Length} listed, {page.Stored} stored{(page.Next is { } next ? $"; more from --from {next}" : "")}");
            return 0;
        }, cancel));
        return command;
    }

    private static Command Show(CommandContext context)
    {
        var sequence = new Argument<long>("sequence") { Description = "The message's sequence (from backlog list)." };
        var command = new Command("show", "Shows one waiting message: headers, properties, and its payload as text or hex.") { sequence };
        command.SetAction((parse, cancel) => context.WithBacklogAsync(parse, async access =>
        {
            var seq = parse.GetValue(sequence);
            var m = await access.ShowAsync(seq, cancel) ?? throw new CommandFailedException($"no message {seq} is stored (forwarded and confirmed, purged, expired, or never stored)");
            Console.Out.Write(MessageText.Describe(m));
            return 0;
        }, cancel));
        return command;
    }

    private static Command Purge(CommandContext context)
    {
        var route = new Option<string>("--route") { Description = "Remove the messages this route takes (index in Gateway:Routes, or filter)." };
        var before = new Option<long?>("--before") { Description = "Remove the messages with a sequence below this one." };
        var olderThan = new Option<string>("--older-than") { Description = "Remove the messages received longer ago than this: 90s, 30m, 12h, 7d." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (required without a terminal)." };
        var command = new Command("purge", "Removes waiting messages for good; with several criteria, those matching all. Logged by the gateway.") { route, before, olderThan, yes };
        command.Validators.Add(result =>
        {
            if (result.GetValue(route) is null && result.GetValue(before) is null && result.GetValue(olderThan) is null)
                result.AddError("backlog purge needs --route, --before or --older-than");
            if (result.GetValue(olderThan) is { } age && Durations.TryParse(age) is null)
                result.AddError($"--older-than '{age}' is not an age such as 90s, 30m, 12h or 7d");
        });
        command.SetAction((parse, cancel) =>
        {
            var request = new PurgeRequest(parse.GetValue(route), parse.GetValue(before), parse.GetValue(olderThan) is { } age ? Durations.TryParse(age) : null);
            var what = $"route {request.Route ?? "any"}, before sequence {request.Before?.ToString() ?? "-"}, older than {parse.GetValue(olderThan) ?? "-"}";
            if (!parse.GetValue(yes) && !Confirmation.Ask($"Remove every waiting message matching {what}? This cannot be undone."))
                return Task.FromResult(Confirmation.Interactive ? 1 : 2);
            return context.WithBacklogAsync(parse, async access =>
            {
                var result = await access.PurgeAsync(request, cancel);
                Console.Out.WriteLine($"purged {result.Removed} messages ({what}); {result.Stored} stored");
                return 0;
            }, cancel, write: true);
        });
        return command;
    }

    private static Command Export(CommandContext context)
    {
        var file = new Argument<string>("file") { Description = "The file to write, one JSON object per message (JSON lines); - for standard output." };
        var route = new Option<string>("--route") { Description = "Only messages this route takes." };
        var command = new Command("export", "Writes every waiting message, with headers and payload (base64), as JSON lines for offline analysis.") { file, route };
        command.SetAction((parse, cancel) => context.WithBacklogAsync(parse, async access =>
        {
            var path = parse.GetValue(file)!;
            await using var output = path == "-" ? Console.OpenStandardOutput() : File.Create(path);
            await using var writer = new StreamWriter(output, new UTF8Encoding(false));
            var (exported, from) = (0L, 1L);
            while (true)
            {
                var page = await access.ListAsync(new BacklogQuery(parse.GetValue(route), null, from, ExportPage, true), cancel);
                foreach (var entry in page.Messages) await writer.WriteLineAsync(JsonSerializer.Serialize(entry, BacklogJson.Default.BacklogEntry));
                exported += page.Messages.Length;
                if (page.Stored >= ProgressFrom) await Console.Error.WriteLineAsync($"exported {exported} of about {page.Stored}");
                if (page.Next is not { } next) break;
                from = next;
            }
            await writer.FlushAsync(cancel);
            await Console.Error.WriteLineAsync($"exported {exported} messages to {path}");
            return 0;
        }, cancel));
        return command;
    }

    private static string Age(double seconds) =>
        seconds < 120 ? $"{seconds:0.0}s" : seconds < 7200 ? $"{seconds / 60:0.0}m" : seconds < 172800 ? $"{seconds / 3600:0.0}h" : $"{seconds / 86400:0.0}d";
}

/// <summary>Asking the operator on the terminal.</summary>
internal static class Confirmation
{
    public static bool Interactive => !Console.IsInputRedirected;

    /// <summary>True when the operator answered yes; false (said why) when not, or when there is no terminal to ask on.</summary>
    public static bool Ask(string question)
    {
        if (!Interactive)
        {
            Console.Error.WriteLine("gateway: refusing to purge without confirmation: no terminal to ask on; add --yes");
            return false;
        }
        Console.Error.Write($"{question} [y/N] ");
        var answer = Console.ReadLine()?.Trim();
        if (answer is "y" or "Y" or "yes") return true;
        Console.Error.WriteLine("gateway: nothing purged");
        return false;
    }
}

/// <summary>Ages as operators write them: 90s, 30m, 12h, 7d (or a TimeSpan such as 01:30:00).</summary>
internal static class Durations
{
    public static TimeSpan? TryParse(string text)
    {
        text = text.Trim();
        if (text.Length >= 2 && double.TryParse(text[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            return char.ToLowerInvariant(text[^1]) switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
        }
        return TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero ? span : null;
    }
}
