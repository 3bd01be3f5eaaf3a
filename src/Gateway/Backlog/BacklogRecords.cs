using System.Text.Json.Serialization;

namespace Gateway.Backlog;

/// <summary>Which waiting messages to list: all filters together (and).</summary>
/// <param name="Route">A route by its index in Gateway:Routes or its filter as configured; null for any.</param>
/// <param name="Upstream">Only messages this upstream has still to confirm; null for any.</param>
/// <param name="From">The first sequence to list.</param>
/// <param name="Limit">Most messages in the page.</param>
/// <param name="Details">Headers, properties and payload too (show, export).</param>
public sealed record BacklogQuery(string? Route, string? Upstream, long From, int Limit, bool Details);

/// <summary>One waiting message. The detail fields are null in a plain listing.</summary>
public sealed record BacklogEntry(long Sequence, string Topic, int Size, DateTimeOffset ReceivedAt, double AgeSeconds, string[] OwedBy)
{
    public string? ClientId { get; init; }
    public int? Qos { get; init; }
    public bool? Retain { get; init; }
    public string? ContentType { get; init; }
    public string? ResponseTopic { get; init; }
    public string? CorrelationData { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public Dictionary<string, string>? UserProperties { get; init; }

    /// <summary>The payload in base64 (binary safe); the command line shows it as text or hex.</summary>
    public string? Payload { get; init; }
}

/// <param name="Stored">Messages in the store, all routes.</param>
/// <param name="Messages">This page, oldest first.</param>
/// <param name="Next">The sequence to ask from for the next page; null when this was the last.</param>
public sealed record BacklogPage(long Stored, BacklogEntry[] Messages, long? Next);

/// <summary>What a purge removes: every message matching all the criteria given (at least one).</summary>
/// <param name="Route">A route by index or filter: the messages whose topic it matches.</param>
/// <param name="Before">Messages with a sequence below this one.</param>
/// <param name="OlderThan">Messages received longer ago than this.</param>
public sealed record PurgeRequest(string? Route, long? Before, TimeSpan? OlderThan);

public sealed record PurgeResult(int Removed, long Stored);

/// <summary>An error the admin API answers with (and the command line prints).</summary>
public sealed record BacklogProblem(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BacklogPage))]
[JsonSerializable(typeof(BacklogEntry))]
[JsonSerializable(typeof(PurgeRequest))]
[JsonSerializable(typeof(PurgeResult))]
[JsonSerializable(typeof(BacklogProblem))]
public sealed partial class BacklogJson : JsonSerializerContext;

/// <summary>A request the backlog cannot answer as asked (an unknown route or upstream, no purge criterion).</summary>
public sealed class BacklogRequestException(string message) : Exception(message);
