using Gateway.Hosting;

namespace Gateway.UnitTests.Hosting;

/// <summary>What makes the gateway not alive (restart it) and not ready (send no clients), state by state.</summary>
public sealed class HealthVerdictTests
{
    private static readonly ListenerHealth[] AllListening = [new("mqtt", true), new("http", true), new("stomp", true)];

    private static HealthFacts Normal => new(WriterFault: null, ForwarderFault: null, AllListening, StoreOpen: true,
        DiskGuardActive: false, DiskFullCause: null, AtQuota: false);

    [Fact]
    public void A_gateway_with_every_part_running_and_room_to_store_is_alive_and_ready()
    {
        Assert.Empty(HealthVerdict.NotAlive(Normal));
        Assert.Empty(HealthVerdict.NotReady(Normal));
    }

    [Fact]
    public void A_dead_writer_makes_it_neither_alive_nor_ready_and_is_named()
    {
        var facts = Normal with { WriterFault = "boom" };
        Assert.Equal(["the outbox's writer stopped: boom"], HealthVerdict.NotAlive(facts));
        Assert.Equal(["the outbox's writer stopped: boom"], HealthVerdict.NotReady(facts));
    }

    [Fact]
    public void A_dead_forwarder_or_a_listener_that_stopped_accepting_makes_it_not_alive()
    {
        var facts = Normal with { ForwarderFault = "the forwarder for upstream 'cloud' stopped: bug", Listeners = [new("mqtt", false), new("http", true)] };
        Assert.Equal(["the forwarder for upstream 'cloud' stopped: bug", "the mqtt listener is not accepting connections"], HealthVerdict.NotAlive(facts));
    }

    [Theory]
    [InlineData("guard", "the disk is below its free-space watermark: new messages are refused")]
    [InlineData("full", "the store refuses writes: no room on the disk for a commit (ENOSPC)")]
    [InlineData("quota", "the store is at its quota and rejects new messages")]
    [InlineData("closed", "the store is not open (reopening after a failed write)")]
    public void A_store_that_would_refuse_the_next_message_leaves_it_alive_but_not_ready(string state, string reason)
    {
        var facts = state switch
        {
            "guard" => Normal with { DiskGuardActive = true },
            "full" => Normal with { DiskFullCause = "no room on the disk for a commit (ENOSPC)" },
            "quota" => Normal with { AtQuota = true },
            _ => Normal with { StoreOpen = false },
        };
        Assert.Empty(HealthVerdict.NotAlive(facts));
        Assert.Equal([reason], HealthVerdict.NotReady(facts));
    }
}
