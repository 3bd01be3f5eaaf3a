namespace Gateway.TestUtilities;

/// <summary>
/// The gateway under test logged errors the test did not declare. Thrown when the process is
/// disposed: if the test had already failed, this replaces its failure, and these lines are then
/// usually the reason for it.
/// </summary>
public sealed class UnexpectedGatewayErrorsException(string gatewayId, IReadOnlyList<string> lines)
    : Exception(Describe(gatewayId, lines))
{
    // Enough to see what went wrong; a flood of the same failure adds nothing past this.
    private const int LinesShown = 20;

    public IReadOnlyList<string> Lines { get; } = lines;

    private static string Describe(string gatewayId, IReadOnlyList<string> lines)
    {
        var shown = string.Join("\n  ", lines.Take(LinesShown));
        var more = lines.Count > LinesShown ? $"\n  ... and {lines.Count - LinesShown} more" : "";
        return $"gateway '{gatewayId}' logged {lines.Count} error line(s) the test did not declare with ExpectErrors(...):\n  {shown}{more}";
    }
}
