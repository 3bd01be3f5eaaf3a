using Gateway.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Hardware;

/// <summary>The LEDs and the button as pins: the GPIO adapter, or a fake in tests.</summary>
public interface IPanelPins
{
    /// <summary>Lights or darkens an LED that has a pin; the adapter applies active-low. Called only on a change.</summary>
    void Write(PanelLed led, bool lit);

    /// <summary>Whether the button is pressed now (active level applied); null when there is no button.</summary>
    bool? ReadButton();
}

public enum PanelLed
{
    Link,
    Backlog,
    Fault,
    Heartbeat,
}

/// <summary>
/// The front panel's behaviour, ticked a few tens of times a second by its service: reads the
/// gateway's state (every <see cref="StateEvery"/>), turns it into LED modes, blinks them, and
/// acts on the button. Plain code over a clock given to it, so tests step time.
/// </summary>
public sealed partial class FrontPanel
{
    /// <summary>How often the gateway's state is read: the LEDs follow it within this, well under a second.</summary>
    public static readonly TimeSpan StateEvery = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a short press shows the state (and, first, lights every LED).</summary>
    public static readonly TimeSpan ShowFor = TimeSpan.FromSeconds(3);

    public static readonly TimeSpan LampTest = TimeSpan.FromMilliseconds(500);

    private static readonly PanelLed[] Leds = Enum.GetValues<PanelLed>();

    private readonly HardwareOptions _options;
    private readonly IAppliance _appliance;
    private readonly IPanelPins _pins;
    private readonly ILogger _logger;
    private readonly StatusLights _status;
    private readonly ButtonDebouncer _button = new();
    private readonly bool?[] _written = new bool?[Leds.Length];
    private PanelLights _lights = PanelLights.Dark;
    private long? _stateReadAtMs;
    private long _showUntilMs = long.MinValue;
    private long _lampTestUntilMs = long.MinValue;
    private string? _faultCause;

    public FrontPanel(HardwareOptions options, IAppliance appliance, IPanelPins pins, ILogger logger)
    {
        _options = options;
        _appliance = appliance;
        _pins = pins;
        _logger = logger;
        _status = new StatusLights(options);
    }

    /// <summary>The modes the state calls for, before blinking, quiet mode and the button.</summary>
    public PanelLights Lights => _lights;

    /// <param name="nowMs">A monotonic clock in milliseconds.</param>
    public void Tick(long nowMs)
    {
        if (_pins.ReadButton() is { } pressed) OnButton(_button.Sample(pressed, nowMs), nowMs);

        if (_stateReadAtMs is not { } readAt || nowMs - readAt >= StateEvery.TotalMilliseconds)
        {
            _stateReadAtMs = nowMs;
            _lights = _status.Evaluate(_appliance.Read(), nowMs);
            if (_status.FaultCause != _faultCause)
            {
                _faultCause = _status.FaultCause;
                if (_faultCause is not null) LogFault(_faultCause);
            }
        }

        var shown = Shown(nowMs);
        for (var i = 0; i < Leds.Length; i++)
        {
            var lit = Blink.IsLit(ModeOf(shown, Leds[i]), nowMs);
            if (_written[i] == lit) continue;
            _written[i] = lit;
            _pins.Write(Leds[i], lit);
        }
    }

    private PanelLights Shown(long nowMs)
    {
        if (nowMs < _lampTestUntilMs) return PanelLights.AllOn;
        if (_options.LedsQuiet && nowMs >= _showUntilMs) return PanelLights.Dark with { Heartbeat = _lights.Heartbeat };
        return _lights;
    }

    private void OnButton(ButtonPress press, long nowMs)
    {
        switch (press)
        {
            case ButtonPress.Short:
                _lampTestUntilMs = nowMs + (long)LampTest.TotalMilliseconds;
                _showUntilMs = nowMs + (long)ShowFor.TotalMilliseconds;
                LogShortPress(_lights.Link, _lights.Backlog, _lights.Fault);
                break;
            case ButtonPress.Long:
                LogLongPress();
                _appliance.ReconnectNow();
                break;
        }
    }

    private static LedMode ModeOf(PanelLights lights, PanelLed led) => led switch
    {
        PanelLed.Link => lights.Link,
        PanelLed.Backlog => lights.Backlog,
        PanelLed.Fault => lights.Fault,
        _ => lights.Heartbeat,
    };

    [LoggerMessage(EventIds.FrontPanelButton, LogLevel.Information, "Front panel button: short press, showing the state (link {Link}, backlog {Backlog}, fault {Fault})")]
    private partial void LogShortPress(LedMode link, LedMode backlog, LedMode fault);

    [LoggerMessage(EventIds.FrontPanelButton, LogLevel.Warning, "Front panel button: held 5 s, every upstream that is down reconnects now")]
    private partial void LogLongPress();

    [LoggerMessage(EventIds.FrontPanelFault, LogLevel.Warning, "Front panel: fault LED on: {Cause}")]
    private partial void LogFault(string cause);
}
