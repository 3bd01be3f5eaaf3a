namespace Gateway.Hardware;

/// <summary>What a press of the button meant.</summary>
public enum ButtonPress
{
    None,

    /// <summary>Pressed and let go within <see cref="ButtonDebouncer.LongPress"/>.</summary>
    Short,

    /// <summary>Held for <see cref="ButtonDebouncer.LongPress"/>: reported while still held, once.</summary>
    Long,
}

/// <summary>
/// Turns the button pin's raw samples into presses: a level counts once it has held for
/// <see cref="Settle"/> (contacts bounce for a few milliseconds), a long press is reported when it
/// has been held long enough, without waiting for the release.
/// </summary>
public sealed class ButtonDebouncer
{
    public static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(30);
    public static readonly TimeSpan LongPress = TimeSpan.FromSeconds(5);

    private bool _raw;
    private long _rawSinceMs;
    private bool _pressed;
    private long _pressedAtMs;
    private bool _longReported;

    /// <param name="pressed">The pin reads "pressed" now (active level already applied).</param>
    /// <param name="nowMs">A monotonic clock in milliseconds.</param>
    public ButtonPress Sample(bool pressed, long nowMs)
    {
        if (pressed != _raw)
        {
            _raw = pressed;
            _rawSinceMs = nowMs;
        }
        if (_raw != _pressed && nowMs - _rawSinceMs >= Settle.TotalMilliseconds)
        {
            _pressed = _raw;
            if (_pressed)
            {
                _pressedAtMs = _rawSinceMs;
                _longReported = false;
            }
            else if (!_longReported)
            {
                return ButtonPress.Short;
            }
        }
        if (_pressed && !_longReported && nowMs - _pressedAtMs >= LongPress.TotalMilliseconds)
        {
            _longReported = true;
            return ButtonPress.Long;
        }
        return ButtonPress.None;
    }
}
