using System.Text;
using Gateway.Status;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.UnitTests.Status;

public sealed class StatusSamplerTests
{
    private static StatusReport Report(long backlog) => new(
        "gw", DateTimeOffset.UnixEpoch.AddSeconds(backlog), DateTimeOffset.UnixEpoch, [], [], new RateStatus(0, 0),
        new DiskStatus(1, 1, false, backlog, 10, 0, 10), new ConnectionStatus(0, 0, []), [], new StatusSample(backlog, 0, 0, backlog));

    private static StatusSampler NewSampler() => new(null!, NullLogger<StatusSampler>.Instance);

    [Fact]
    public void A_snapshot_is_encoded_once_as_json_and_as_an_event_frame_and_its_sample_joins_the_history()
    {
        var sampler = NewSampler();
        sampler.Publish(Report(7));

        var published = sampler.Current!;
        var json = Encoding.UTF8.GetString(published.Json);
        Assert.StartsWith("{\"gatewayId\":\"gw\"", json, StringComparison.Ordinal);
        Assert.Equal("data: " + json + "\n\n", Encoding.UTF8.GetString(published.EventFrame));
        Assert.Equal([7L], sampler.History.ToArray().Select(s => s.Backlog));
    }

    [Fact]
    public async Task Every_waiting_stream_gets_the_same_next_snapshot_and_a_late_one_gets_the_current_at_once()
    {
        var sampler = NewSampler();
        sampler.Publish(Report(1));
        var seen = sampler.Current;
        var first = sampler.NextAsync(seen, CancellationToken.None);
        var second = sampler.NextAsync(seen, CancellationToken.None);
        Assert.False(first.IsCompleted);

        sampler.Publish(Report(2));

        Assert.Same(await first, await second);
        Assert.Same(sampler.Current, await sampler.NextAsync(seen, CancellationToken.None)); // behind: no wait
    }

    [Fact]
    public async Task A_get_without_a_fresh_snapshot_waits_for_the_next_one_and_takes_a_fresh_one_at_once()
    {
        var sampler = NewSampler();
        var asked = sampler.FreshAsync(CancellationToken.None);
        Assert.False(asked.IsCompleted); // nothing built yet: nobody was watching

        sampler.Publish(Report(3));

        Assert.Same(sampler.Current, await asked);
        Assert.Same(sampler.Current, await sampler.FreshAsync(CancellationToken.None));
    }
}
