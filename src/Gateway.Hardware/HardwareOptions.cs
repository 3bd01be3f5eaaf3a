namespace Gateway.Hardware;

/// <summary>
/// The front panel's pins, bound from <c>Gateway:Hardware</c>. Every pin is optional (GPIO line
/// offsets on <see cref="GpioChip"/>, which on a Raspberry Pi are the BCM numbers); with none set the
/// panel is off. <c>firmware-config/boards/</c> has the maps for known boards.
/// </summary>
public sealed record HardwareOptions
{
    /// <summary>The GPIO chip (<c>/dev/gpiochipN</c>); none: the driver System.Device.Gpio picks for the board.</summary>
    public int? GpioChip { get; init; }

    /// <summary>On: every upstream connected. Slow blink: reconnecting, blocked or some down. Off: no upstream configured.</summary>
    public int? LinkLedPin { get; init; }

    /// <summary>Off: nothing waits. On: messages wait. Fast blink: the store over <see cref="BacklogWarnShare"/> of its quota, or the oldest message older than <see cref="BacklogWarnAge"/>.</summary>
    public int? BacklogLedPin { get; init; }

    /// <summary>On: the store refuses messages or the disk guard is active, or in the last <see cref="FaultHold"/> a write failed, a damaged store part was moved aside or logins failed repeatedly.</summary>
    public int? FaultLedPin { get; init; }

    /// <summary>A short flash every second while the gateway runs.</summary>
    public int? HeartbeatLedPin { get; init; }

    /// <summary>The LEDs are wired to light when their pin is low (to 3.3 V through the LED, sinking into the pin).</summary>
    public bool LedsActiveLow { get; init; }

    /// <summary>
    /// Only the heartbeat lights on its own; the other LEDs show the state for 3 s after a short press
    /// of the button. For sites where lights that blink all day are unwelcome.
    /// </summary>
    public bool LedsQuiet { get; init; }

    /// <summary>A push button. Short press: a lamp test, then the state for 3 s. Held 5 s: every upstream reconnects now.</summary>
    public int? ButtonPin { get; init; }

    /// <summary>The button pulls its pin low when pressed (the usual wiring, to ground with the pin's pull-up on).</summary>
    public bool ButtonActiveLow { get; init; } = true;

    public double BacklogWarnShare { get; init; } = 0.8;

    public TimeSpan BacklogWarnAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long the fault LED stays on after a failed write, a store part moved aside or a burst of failed logins.</summary>
    public TimeSpan FaultHold { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Failed logins within a minute that count as a fault (someone guessing passwords, or a device with an old one).</summary>
    public int AuthFailuresPerMinute { get; init; } = 10;

    /// <summary>True when any pin is set.</summary>
    public bool Enabled => LinkLedPin is not null || BacklogLedPin is not null || FaultLedPin is not null || HeartbeatLedPin is not null || ButtonPin is not null;

    /// <summary>Every value out of range, each a line naming its key.</summary>
    public IEnumerable<string> Validate(string section)
    {
        var pins = new (string Name, int? Pin)[]
        {
            (nameof(LinkLedPin), LinkLedPin), (nameof(BacklogLedPin), BacklogLedPin), (nameof(FaultLedPin), FaultLedPin),
            (nameof(HeartbeatLedPin), HeartbeatLedPin), (nameof(ButtonPin), ButtonPin),
        };
        foreach (var (name, pin) in pins)
        {
            if (pin is < 0 or > 1023) yield return $"{section}:{name} must be a GPIO line from 0 to 1023 (was {pin})";
        }
        foreach (var clash in pins.Where(p => p.Pin is not null).GroupBy(p => p.Pin).Where(g => g.Count() > 1))
            yield return $"{section}: {string.Join(" and ", clash.Select(p => p.Name))} are the same pin {clash.Key}";
        if (GpioChip is < 0 or > 64) yield return $"{section}:GpioChip must be 0 to 64 (was {GpioChip})";
        if (BacklogWarnShare is <= 0 or > 1) yield return $"{section}:BacklogWarnShare must be above 0 and at most 1 (was {BacklogWarnShare})";
        if (BacklogWarnAge <= TimeSpan.Zero) yield return $"{section}:BacklogWarnAge must be positive (was {BacklogWarnAge})";
        if (FaultHold <= TimeSpan.Zero) yield return $"{section}:FaultHold must be positive (was {FaultHold})";
        if (AuthFailuresPerMinute < 1) yield return $"{section}:AuthFailuresPerMinute must be at least 1 (was {AuthFailuresPerMinute})";
    }
}
