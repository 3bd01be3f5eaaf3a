using System.Device.Gpio;

namespace Gateway.UnitTests.Hardware;

/// <summary>A GPIO driver with no hardware: records every pin write, reads what the test sets, and can have pins "taken" by another program.</summary>
internal sealed class FakeGpioDriver : GpioDriver
{
    private readonly Dictionary<int, PinMode> _modes = [];

    public List<(int Pin, PinValue Value)> Writes { get; } = [];

    public Dictionary<int, PinValue> Inputs { get; } = [];

    public HashSet<int> Taken { get; init; } = [];

    public PinValue LastWritten(int pin) => Writes.Last(w => w.Pin == pin).Value;

    public PinMode ModeOf(int pin) => _modes[pin];

    protected override int PinCount => 64;

    protected override void OpenPin(int pinNumber)
    {
        if (Taken.Contains(pinNumber)) throw new IOException($"pin {pinNumber} is busy (taken by another program)");
    }

    protected override void ClosePin(int pinNumber) => _modes.Remove(pinNumber);

    protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[pinNumber] = mode;

    protected override PinMode GetPinMode(int pinNumber) => _modes[pinNumber];

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;

    protected override PinValue Read(int pinNumber) => Inputs.GetValueOrDefault(pinNumber, PinValue.High);

    protected override void Write(int pinNumber, PinValue value) => Writes.Add((pinNumber, value));

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException();

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException();
}
