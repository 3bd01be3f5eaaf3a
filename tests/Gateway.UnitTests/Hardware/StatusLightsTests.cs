using Microsoft.Extensions.Configuration;
using Gateway.Hardware;

namespace Gateway.UnitTests.Hardware;

public sealed class StatusLightsTests
{
    private static readonly HardwareOptions Options = new() { BacklogWarnShare = 0.8, BacklogWarnAge = TimeSpan.FromHours(1), FaultHold = TimeSpan.FromMinutes(10), AuthFailuresPerMinute = 5 };

    internal static ApplianceState Calm(int upstreams = 1) => new(upstreams, upstreams, 0, 0, null, false, false, 0, 0, 0);

    [Theory]
    [InlineData(0, 0, LedMode.Off)]
    [InlineData(2, 2, LedMode.On)]
    [InlineData(2, 1, LedMode.SlowBlink)]
    [InlineData(1, 0, LedMode.SlowBlink)]
    public void The_link_LED_is_off_without_upstreams_on_when_all_are_connected_and_blinks_slowly_otherwise(int configured, int connected, LedMode expected)
    {
        var lights = new StatusLights(Options).Evaluate(Calm() with { UpstreamsConfigured = configured, UpstreamsConnected = connected }, 0);
        Assert.Equal(expected, lights.Link);
    }

    [Theory]
    [InlineData(0, 0.0, null, LedMode.Off)]
    [InlineData(5, 0.1, 60, LedMode.On)]
    [InlineData(5, 0.8, 60, LedMode.FastBlink)]
    [InlineData(5, 0.1, 3600, LedMode.FastBlink)]
    [InlineData(5, 0.79, 3599, LedMode.On)]
    public void The_backlog_LED_is_off_when_empty_on_while_messages_wait_and_blinks_fast_over_the_share_or_the_age(long backlog, double share, int? ageSeconds, LedMode expected)
    {
        var state = Calm() with { BacklogMessages = backlog, QuotaShare = share, OldestWaiting = ageSeconds is { } s ? TimeSpan.FromSeconds(s) : null };
        Assert.Equal(expected, new StatusLights(Options).Evaluate(state, 0).Backlog);
    }

    [Fact]
    public void The_fault_LED_is_on_while_the_store_refuses_or_the_disk_guard_is_active_and_off_once_they_end()
    {
        var lights = new StatusLights(Options);
        Assert.Equal(LedMode.Off, lights.Evaluate(Calm(), 0).Fault);
        Assert.Equal(LedMode.On, lights.Evaluate(Calm() with { StoreRefusing = true }, 100).Fault);
        Assert.Equal("the store refuses new messages", lights.FaultCause);
        Assert.Equal(LedMode.On, lights.Evaluate(Calm() with { DiskGuardActive = true }, 200).Fault);
        Assert.Equal("free disk space is under the watermark", lights.FaultCause);
        Assert.Equal(LedMode.Off, lights.Evaluate(Calm(), 300).Fault);
        Assert.Null(lights.FaultCause);
    }

    [Theory]
    [InlineData("write")]
    [InlineData("corrupt")]
    public void A_failed_write_or_a_part_moved_aside_keeps_the_fault_LED_on_for_the_hold_then_it_goes_off(string kind)
    {
        var lights = new StatusLights(Options);
        lights.Evaluate(Calm(), 0);
        var after = kind == "write" ? Calm() with { StoreWriteFailures = 1 } : Calm() with { CorruptMovedAside = 1 };
        Assert.Equal(LedMode.On, lights.Evaluate(after, 1_000).Fault);
        Assert.Equal(LedMode.On, lights.Evaluate(after, 1_000 + 599_999).Fault);
        Assert.Equal(LedMode.Off, lights.Evaluate(after, 1_000 + 600_000).Fault);
    }

    [Fact]
    public void Failed_logins_light_the_fault_LED_only_when_enough_come_within_a_minute()
    {
        var spread = new StatusLights(Options);
        for (var i = 0; i <= 8; i++) Assert.Equal(LedMode.Off, spread.Evaluate(Calm() with { AuthFailures = i }, i * 20_000L).Fault);

        var burst = new StatusLights(Options);
        burst.Evaluate(Calm(), 0);
        Assert.Equal(LedMode.Off, burst.Evaluate(Calm() with { AuthFailures = 4 }, 10_000).Fault);
        Assert.Equal(LedMode.On, burst.Evaluate(Calm() with { AuthFailures = 5 }, 20_000).Fault);
        Assert.Contains("failed logins", burst.FaultCause);
    }

    [Fact]
    public void The_heartbeat_LED_always_beats()
    {
        Assert.Equal(LedMode.Heartbeat, new StatusLights(Options).Evaluate(Calm(0), 0).Heartbeat);
    }

    [Theory]
    [InlineData(LedMode.Off, 0, false)]
    [InlineData(LedMode.On, 777, true)]
    [InlineData(LedMode.SlowBlink, 499, true)]
    [InlineData(LedMode.SlowBlink, 500, false)]
    [InlineData(LedMode.FastBlink, 124, true)]
    [InlineData(LedMode.FastBlink, 125, false)]
    [InlineData(LedMode.FastBlink, 250, true)]
    [InlineData(LedMode.Heartbeat, 99, true)]
    [InlineData(LedMode.Heartbeat, 100, false)]
    public void Blink_patterns_depend_only_on_the_time(LedMode mode, long nowMs, bool lit)
    {
        Assert.Equal(lit, Blink.IsLit(mode, nowMs));
    }
}

public sealed class BoardMapTests
{
    private static readonly string Folder = FindBoards();

    public static TheoryData<string> Boards() => new(Directory.GetFiles(Folder, "*.json").Select(f => Path.GetFileName(f)));

    private static string FindBoards()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Gateway.sln"))) folder = folder.Parent;
        return Path.Combine(folder!.FullName, "firmware-config", "boards");
    }

    [Theory]
    [MemberData(nameof(Boards))]
    public void Each_board_map_is_a_valid_configuration_with_every_LED_and_the_button(string board)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddJsonFile(Path.Combine(Folder, board))
            .Build();
        var hardware = Gateway.Configuration.GatewayConfiguration.Load(configuration).Hardware;
        Assert.NotNull(hardware.LinkLedPin);
        Assert.NotNull(hardware.BacklogLedPin);
        Assert.NotNull(hardware.FaultLedPin);
        Assert.NotNull(hardware.HeartbeatLedPin);
        Assert.NotNull(hardware.ButtonPin);
    }
}
