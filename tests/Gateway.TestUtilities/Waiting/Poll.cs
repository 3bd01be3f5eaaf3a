using System.Runtime.CompilerServices;

namespace Gateway.TestUtilities;

/// <summary>
/// Waiting in tests: poll a condition until it holds or a deadline passes, never a bare sleep. A
/// timeout names what was awaited (by default the condition's own source text) and the last error
/// the condition threw, so a failure says what did not happen.
/// </summary>
public static class Poll
{
    // Short enough to add little to a test's time, long enough not to busy the two cores tests share.
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    public static Task UntilAsync(Func<bool> condition, TimeSpan? within = null, [CallerArgumentExpression(nameof(condition))] string what = "") =>
        UntilAsync(() => Task.FromResult(condition()), within, what);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? within = null, [CallerArgumentExpression(nameof(condition))] string what = "")
    {
        var timeout = within ?? Patience.Reaction;
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
                throw new TimeoutException($"waited {timeout.TotalSeconds:0.#} s for {what}" + (last is null ? "" : $"; last error: {last.Message}"));
            await Task.Delay(Interval);
        }
    }

    /// <summary>
    /// Whether <paramref name="task"/> is still pending after <see cref="Patience.Quiet"/>: for what must
    /// NOT happen when nothing later can show it did not (wait for the event that makes it possible
    /// first, so the window starts where a wrong answer would appear).
    /// </summary>
    public static async Task<bool> StaysPendingAsync(Task task)
    {
        await Task.WhenAny(task, Task.Delay(Patience.Quiet));
        return !task.IsCompleted;
    }

    /// <summary>Whether <paramref name="condition"/> stays false for <see cref="Patience.Quiet"/> (see <see cref="StaysPendingAsync"/>).</summary>
    public static async Task<bool> StaysFalseAsync(Func<bool> condition)
    {
        var end = DateTime.UtcNow + Patience.Quiet;
        while (DateTime.UtcNow < end)
        {
            if (condition()) return false;
            await Task.Delay(Interval);
        }
        return !condition();
    }
}
