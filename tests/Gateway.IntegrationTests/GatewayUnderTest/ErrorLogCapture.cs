using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Gateway.IntegrationTests.GatewayUnderTest;

/// <summary>
/// Keeps what an in-process gateway logs at error or critical level, written as the console logger
/// writes it (<c>fail: Category[EventId] message</c>), so the same patterns declare them as for
/// <see cref="GatewayProcess.ExpectErrors"/>.
/// </summary>
public sealed class ErrorLogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Capture(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Capture(ErrorLogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var level = logLevel == LogLevel.Critical ? "crit" : "fail";
            owner._lines.Enqueue($"{level}: {category}[{eventId.Id}] {formatter(state, exception)}" + (exception is null ? "" : $" {exception.GetType()}: {exception.Message}"));
        }
    }
}
