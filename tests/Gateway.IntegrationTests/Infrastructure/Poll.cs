namespace Gateway.IntegrationTests.Infrastructure;

/// <summary>Waiting in tests: poll a condition until it holds or a deadline passes. Never a bare sleep.</summary>
public static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition()) return;
                last = null;
            }
            catch (Exception ex) when (ex is not InvalidOperationException)
            {
                last = ex; // e.g. the HTTP endpoint not up yet: keep polling, but report it if time runs out
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}" + (last is null ? "" : $"; last error: {last.Message}"));
            await Task.Delay(Interval);
        }
    }
}
