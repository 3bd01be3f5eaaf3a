using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using Gateway.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Hardware;

/// <summary>
/// The front panel on real pins: LEDs as outputs (dark at start), the button as an input with the
/// pull-up or pull-down its wiring needs. Thin on purpose; the <see cref="GpioController"/> comes from
/// outside, so tests give it a fake <see cref="GpioDriver"/> that records every write.
/// </summary>
public sealed partial class GpioPanelPins : IPanelPins, IDisposable
{
    private readonly GpioController _controller;
    private readonly HardwareOptions _options;
    private readonly Dictionary<PanelLed, int> _leds = [];

    private GpioPanelPins(GpioController controller, HardwareOptions options)
    {
        _controller = controller;
        _options = options;
        Add(PanelLed.Link, options.LinkLedPin);
        Add(PanelLed.Backlog, options.BacklogLedPin);
        Add(PanelLed.Fault, options.FaultLedPin);
        Add(PanelLed.Heartbeat, options.HeartbeatLedPin);
        foreach (var pin in _leds.Values) controller.OpenPin(pin, PinMode.Output, Level(false));
        if (options.ButtonPin is { } button)
        {
            var pull = options.ButtonActiveLow ? PinMode.InputPullUp : PinMode.InputPullDown;
            controller.OpenPin(button, controller.IsPinModeSupported(button, pull) ? pull : PinMode.Input);
        }
    }

    /// <summary>
    /// The pins opened on <paramref name="controller"/> (made only when called), or null after one log
    /// line when there is no GPIO (no <c>/dev/gpiochip*</c>, no driver for the board, a pin taken by
    /// another program): the gateway runs on without its panel.
    /// </summary>
    public static GpioPanelPins? TryOpen(HardwareOptions options, Func<GpioController> controller, ILogger logger)
    {
        GpioController? opened = null;
        try
        {
            opened = controller();
            return new GpioPanelPins(opened, options);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException
                                       or InvalidOperationException or ArgumentException or DllNotFoundException
                                       or System.ComponentModel.Win32Exception)
        {
            opened?.Dispose();
            LogNoGpio(logger, ex.Message);
            return null;
        }
    }

    /// <summary>The board's controller: on <see cref="HardwareOptions.GpioChip"/> through libgpiod when given, else the one System.Device.Gpio picks.</summary>
    /// <exception cref="PlatformNotSupportedException">The machine has no GPIO chip.</exception>
    public static GpioController BoardController(HardwareOptions options)
    {
        if (!Directory.Exists("/dev") || Directory.GetFiles("/dev", "gpiochip*").Length == 0)
            throw new PlatformNotSupportedException("no /dev/gpiochip* on this machine");
        return options.GpioChip is { } chip ? new GpioController(new LibGpiodDriver(chip)) : new GpioController();
    }

    public void Write(PanelLed led, bool lit)
    {
        if (_leds.TryGetValue(led, out var pin)) _controller.Write(pin, Level(lit));
    }

    public bool? ReadButton()
    {
        if (_options.ButtonPin is not { } pin) return null;
        return (_controller.Read(pin) == PinValue.High) != _options.ButtonActiveLow;
    }

    public void Dispose()
    {
        foreach (var pin in _leds.Values)
        {
            if (_controller.IsPinOpen(pin)) _controller.Write(pin, Level(false));
        }
        _controller.Dispose();
    }

    private void Add(PanelLed led, int? pin)
    {
        if (pin is { } p) _leds[led] = p;
    }

    private PinValue Level(bool lit) => lit != _options.LedsActiveLow ? PinValue.High : PinValue.Low;

    [LoggerMessage(EventIds.FrontPanelOff, LogLevel.Information, "Front panel off: no GPIO here ({Cause}); the gateway runs without its LEDs and button")]
    private static partial void LogNoGpio(ILogger logger, string cause);
}
