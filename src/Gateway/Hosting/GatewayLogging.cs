using System.Text.Encodings.Web;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// The console log: one line per event, local time with its offset (ISO 8601), as text by default
/// or one JSON object per line with <c>Logging:Console:FormatterName=json</c> (the standard key, so
/// shippers' usual setting works), or <c>systemd</c> for the journal's priorities.
/// </summary>
internal static class GatewayLogging
{
    /// <summary>ISO 8601 with the UTC offset, so lines from boards in several time zones sort and compare.</summary>
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffzzz";

    public static ILoggingBuilder AddGatewayConsole(this ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.AddConsole();
        logging.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = TimestampFormat + " ";
        });
        logging.Services.Configure<JsonConsoleFormatterOptions>(o =>
        {
            o.TimestampFormat = TimestampFormat;
            // "+02:00", not "\u002B02:00": the lines are read by people as well as by shippers.
            o.JsonWriterOptions = o.JsonWriterOptions with { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        });
        // Under systemd, AddSystemd would switch to the journal's format (no timestamp, no offset):
        // the text format stays the default there too, and the operator's choice, when made, wins.
        logging.Services.AddSingleton<IPostConfigureOptions<ConsoleLoggerOptions>>(new PostConfigureOptions<ConsoleLoggerOptions>(Options.DefaultName, o =>
            o.FormatterName = configuration["Logging:Console:FormatterName"] is { Length: > 0 } chosen ? chosen : ConsoleFormatterNames.Simple));
        return logging;
    }
}
