using System.Device.Gpio;
using Gateway.Hardware;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Hardware;

/// <summary>The front panel through the real GPIO adapter on a fake driver that records the pin writes.</summary>
public sealed class FrontPanelTests
{
    private const int Link = 17, Backlog = 27, Fault = 22, Heartbeat = 5, Button = 6;

    private static readonly HardwareOptions Pins = new()
    {
        LinkLedPin = Link, BacklogLedPin = Backlog, FaultLedPin = Fault, HeartbeatLedPin = Heartbeat, ButtonPin = Button,
    };

    private readonly FakeGpioDriver _driver = new();
    private readonly FakeAppliance _appliance = new();

    private (FrontPanel Panel, GpioPanelPins Pins) Open(HardwareOptions options)
    {
        var pins = GpioPanelPins.TryOpen(options, () => new GpioController(_driver), NullLogger.Instance);
        Assert.NotNull(pins);
        return (new FrontPanel(options, _appliance, pins, NullLogger.Instance), pins);
    }

    /// <summary>Ticks every 25 ms, as the service does, from <paramref name="fromMs"/> up to <paramref name="toMs"/>.</summary>
    private static void Run(FrontPanel panel, long fromMs, long toMs)
    {
        for (var t = fromMs; t < toMs; t += 25) panel.Tick(t);
    }

    [Fact]
    public void LEDs_start_dark_and_follow_the_state_within_a_second_on_their_pins()
    {
        var (panel, pins) = Open(Pins);
        using var _ = pins;
        Assert.All([Link, Backlog, Fault, Heartbeat], pin => Assert.Equal(PinValue.Low, _driver.LastWritten(pin)));
        Assert.Equal(PinMode.Output, _driver.ModeOf(Link));
        Assert.Equal(PinMode.InputPullUp, _driver.ModeOf(Button));

        _appliance.State = StatusLightsTests.Calm() with { BacklogMessages = 3 };
        Run(panel, 1_000, 1_050);
        Assert.Equal(PinValue.High, _driver.LastWritten(Link));
        Assert.Equal(PinValue.High, _driver.LastWritten(Backlog));
        Assert.Equal(PinValue.Low, _driver.LastWritten(Fault));

        // The link is lost: within a second the link LED blinks, the store's refusal lights the fault LED.
        _appliance.State = _appliance.State with { UpstreamsConnected = 0, StoreRefusing = true };
        var before = _driver.Writes.Count;
        Run(panel, 1_050, 2_050);
        var linkWrites = _driver.Writes.Skip(before).Where(w => w.Pin == Link).Select(w => w.Value).ToList();
        Assert.Contains(PinValue.Low, linkWrites);
        Assert.Contains(PinValue.High, linkWrites);
        Assert.Equal(PinValue.High, _driver.LastWritten(Fault));
        Assert.Equal(LedMode.SlowBlink, panel.Lights.Link);
    }

    [Fact]
    public void Active_low_LEDs_are_driven_low_to_light_and_high_when_dark_and_at_the_end()
    {
        var options = Pins with { LedsActiveLow = true };
        var (panel, pins) = Open(options);
        Assert.Equal(PinValue.High, _driver.LastWritten(Link));
        _appliance.State = StatusLightsTests.Calm();
        Run(panel, 0, 50);
        Assert.Equal(PinValue.Low, _driver.LastWritten(Link));
        Assert.Equal(PinValue.High, _driver.LastWritten(Backlog));
        pins.Dispose();
        Assert.Equal(PinValue.High, _driver.LastWritten(Link));
    }

    [Fact]
    public void A_pin_is_written_only_when_its_level_changes()
    {
        var (panel, pins) = Open(Pins);
        using var _ = pins;
        _appliance.State = StatusLightsTests.Calm();
        Run(panel, 0, 10_000);
        // The link LED is steadily on: lit once. The heartbeat flashes once a second: 10 times on and off.
        Assert.Single(_driver.Writes.Skip(1), w => w.Pin == Link);
        Assert.Equal(20, _driver.Writes.Count(w => w.Pin == Heartbeat) - 1);
    }

    [Fact]
    public void A_short_press_lights_every_LED_then_shows_the_state_in_quiet_mode_for_three_seconds()
    {
        var (panel, pins) = Open(Pins with { LedsQuiet = true });
        using var _ = pins;
        _appliance.State = StatusLightsTests.Calm() with { BacklogMessages = 1 };
        Run(panel, 0, 1_000);
        Assert.Equal(PinValue.Low, _driver.LastWritten(Link)); // quiet: dark although connected

        _driver.Inputs[Button] = PinValue.Low; // pressed (active low)
        Run(panel, 1_000, 1_200);
        _driver.Inputs[Button] = PinValue.High;
        Run(panel, 1_200, 1_300);
        Assert.All([Link, Backlog, Fault], pin => Assert.Equal(PinValue.High, _driver.LastWritten(pin))); // lamp test
        Run(panel, 1_300, 2_000);
        Assert.Equal(PinValue.High, _driver.LastWritten(Link));
        Assert.Equal(PinValue.Low, _driver.LastWritten(Fault)); // its value, after the lamp test
        Run(panel, 2_000, 5_000);
        Assert.Equal(PinValue.Low, _driver.LastWritten(Link)); // quiet again after 3 s
        Assert.Equal(0, _appliance.Reconnects);
    }

    [Fact]
    public void Holding_the_button_five_seconds_asks_every_upstream_to_reconnect_once()
    {
        var (panel, pins) = Open(Pins);
        using var _ = pins;
        _appliance.State = StatusLightsTests.Calm() with { UpstreamsConnected = 0 };
        _driver.Inputs[Button] = PinValue.Low;
        Run(panel, 0, 4_900);
        Assert.Equal(0, _appliance.Reconnects);
        Run(panel, 4_900, 8_000);
        Assert.Equal(1, _appliance.Reconnects);
        _driver.Inputs[Button] = PinValue.High;
        Run(panel, 8_000, 9_000);
        Assert.Equal(1, _appliance.Reconnects);
    }

    [Fact]
    public void Without_GPIO_or_with_a_pin_taken_the_panel_is_not_opened_and_says_why()
    {
        var log = new ListLogger();
        Assert.Null(GpioPanelPins.TryOpen(Pins, () => throw new PlatformNotSupportedException("no /dev/gpiochip* on this machine"), log));
        Assert.Contains(log.Lines, l => l.Contains("no /dev/gpiochip*", StringComparison.Ordinal));

        var taken = new FakeGpioDriver { Taken = [Fault] };
        Assert.Null(GpioPanelPins.TryOpen(Pins, () => new GpioController(taken), log));
        Assert.Contains(log.Lines, l => l.Contains("pin 22 is busy", StringComparison.Ordinal));
        Assert.Equal(2, log.Lines.Count);
    }

    private sealed class FakeAppliance : IAppliance
    {
        public ApplianceState State { get; set; } = StatusLightsTests.Calm();

        public int Reconnects { get; private set; }

        public ApplianceState Read() => State;

        public void ReconnectNow() => Reconnects++;
    }

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
