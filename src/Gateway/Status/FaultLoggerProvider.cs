namespace Gateway.Status;

/// <summary>
/// A logging provider that hands the gateway's fault warnings and errors to the <see cref="FaultLog"/>.
/// Below Warning it is not enabled, so it adds nothing to the per-message paths' logging.
/// </summary>
internal sealed class FaultLoggerProvider(FaultLog faults) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new FaultLogger(faults);

    public void Dispose()
    {
    }

    private sealed class FaultLogger(FaultLog faults) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || !FaultLog.Keeps(eventId.Id)) return;
            faults.Record(eventId.Id, logLevel.ToString(), formatter(state, exception), UpstreamOf(state));
        }

        /// <summary>The <c>{Upstream}</c> of a structured message, as the forwarder's messages carry it.</summary>
        private static string? UpstreamOf<TState>(TState state)
        {
            if (state is not IReadOnlyList<KeyValuePair<string, object?>> values) return null;
            foreach (var (key, value) in values)
                if (key == "Upstream") return value?.ToString();
            return null;
        }
    }
}
