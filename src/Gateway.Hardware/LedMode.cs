namespace Gateway.Hardware;

/// <summary>What an LED does; <see cref="Blink.IsLit"/> turns it into on or off at a moment.</summary>
public enum LedMode
{
    Off,
    On,

    /// <summary>1 Hz, half on: something is being worked on (reconnecting).</summary>
    SlowBlink,

    /// <summary>4 Hz, half on: needs attention soon (the store filling up).</summary>
    FastBlink,

    /// <summary>A 100 ms flash each second: alive.</summary>
    Heartbeat,
}

/// <summary>The four LEDs' modes at one moment.</summary>
public sealed record PanelLights(LedMode Link, LedMode Backlog, LedMode Fault, LedMode Heartbeat)
{
    public static readonly PanelLights Dark = new(LedMode.Off, LedMode.Off, LedMode.Off, LedMode.Off);

    public static readonly PanelLights AllOn = new(LedMode.On, LedMode.On, LedMode.On, LedMode.On);
}

/// <summary>Blink patterns as a function of time, so a tick at any rate shows the same pattern.</summary>
public static class Blink
{
    public static bool IsLit(LedMode mode, long nowMs) => mode switch
    {
        LedMode.On => true,
        LedMode.SlowBlink => nowMs % 1000 < 500,
        LedMode.FastBlink => nowMs % 250 < 125,
        LedMode.Heartbeat => nowMs % 1000 < 100,
        _ => false,
    };
}
