namespace Gateway.Status;

/// <summary>One point of the dashboard's charts: the rates over the second before it and the backlog at it.</summary>
/// <param name="At">Unix time, seconds.</param>
/// <param name="IngestPerSecond">Messages committed to the outbox per second.</param>
/// <param name="ForwardPerSecond">Deliveries confirmed by the upstreams per second.</param>
/// <param name="Backlog">Messages in the store.</param>
public readonly record struct StatusSample(long At, double IngestPerSecond, double ForwardPerSecond, long Backlog);

/// <summary>
/// The last <see cref="Capacity"/> samples, oldest first, in a fixed array: an hour at one a second is
/// 3,600 entries (about 100 KB), allocated once, so keeping the history costs nothing per sample.
/// </summary>
public sealed class StatusHistory(int capacity)
{
    private readonly StatusSample[] _samples = new StatusSample[capacity];
    private readonly Lock _lock = new();
    private int _next, _count;

    public int Capacity => _samples.Length;

    public void Add(StatusSample sample)
    {
        lock (_lock)
        {
            _samples[_next] = sample;
            _next = (_next + 1) % _samples.Length;
            if (_count < _samples.Length) _count++;
        }
    }

    /// <summary>The samples kept, oldest first.</summary>
    public StatusSample[] ToArray()
    {
        lock (_lock)
        {
            var copy = new StatusSample[_count];
            var first = (_next - _count + _samples.Length) % _samples.Length;
            for (var i = 0; i < _count; i++) copy[i] = _samples[(first + i) % _samples.Length];
            return copy;
        }
    }
}
