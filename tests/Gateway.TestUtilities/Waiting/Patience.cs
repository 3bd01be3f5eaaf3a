namespace Gateway.TestUtilities;

/// <summary>
/// How long tests wait, in one place. Each is a bound on something that should happen much sooner:
/// a test that reaches one has failed, so they are generous rather than tight. On a slow or crowded
/// machine, <c>GATEWAY_TEST_PATIENCE=2</c> (a factor) stretches every one of them.
/// </summary>
public static class Patience
{
    private static readonly double Scale = ReadScale();

    /// <summary>One step in a running gateway or outbox: a commit, a frame answered, a metric updated,
    /// a disconnect noticed. Milliseconds when idle; the rest covers a suite sharing two cores.</summary>
    public static TimeSpan Reaction { get; } = Scaled(TimeSpan.FromSeconds(20));

    /// <summary>A process coming up until its ports accept connections: the gateway, a broker node (a JVM or an Erlang VM on a busy machine).</summary>
    public static TimeSpan Startup { get; } = Scaled(TimeSpan.FromSeconds(90));

    /// <summary>A volume of messages through the gateway to a broker (or a Node.js client's whole run),
    /// including reconnects with back-off while a broker restarts.</summary>
    public static TimeSpan Delivery { get; } = Scaled(TimeSpan.FromSeconds(120));

    /// <summary>A broker cluster or a master/standby pair failing over, and the gateway following it.</summary>
    public static TimeSpan Failover { get; } = Scaled(TimeSpan.FromSeconds(180));

    /// <summary>
    /// How long a test watches for something that must NOT happen when there is no later event to wait
    /// on instead (a blocked connection sends no marker). The gateway acts on a buffered frame within
    /// milliseconds when idle, so this window would see it.
    /// </summary>
    public static TimeSpan Quiet { get; } = Scaled(TimeSpan.FromMilliseconds(500));

    private static TimeSpan Scaled(TimeSpan value) => value * Scale;

    private static double ReadScale()
    {
        var text = Environment.GetEnvironmentVariable("GATEWAY_TEST_PATIENCE");
        if (string.IsNullOrEmpty(text)) return 1;
        return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var scale) && scale >= 1
            ? scale
            : throw new InvalidOperationException($"GATEWAY_TEST_PATIENCE must be a factor of at least 1, not '{text}'");
    }
}
