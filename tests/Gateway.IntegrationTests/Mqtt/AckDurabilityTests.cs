using Gateway.IntegrationTests.GatewayUnderTest;
using Gateway.IntegrationTests.Infrastructure;
using Gateway.Storage.LiteDb;
using Gateway.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Gateway.IntegrationTests.Mqtt;

/// <summary>
/// The gateway in this process, with the outbox's fsync behind a gate the test holds: a PUBACK that
/// could leave before the commit is on disk would arrive while the gate is shut, and fail the test.
/// </summary>
public sealed class AckDurabilityTests : IAsyncLifetime
{
    private InProcessGateway _gateway = null!;

    private GatedDiskSync Sync => _gateway.Sync;
    private int MqttPort => _gateway.MqttPort;

    public async Task InitializeAsync() => _gateway = await InProcessGateway.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Puback_is_sent_only_after_the_commit_is_on_disk(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev", version);
        // The first commit into new files makes LiteDB flush on its own: get it done before watching.
        var syncedBefore = Sync.SyncsCompleted;
        Assert.True((await device.PublishAsync("sensors/a/temp", "warm-up", qos)).IsSuccess);
        await Poll.UntilAsync(() => Sync.SyncsCompleted > syncedBefore, TimeSpan.FromSeconds(10), "the warm-up's fsync to finish");
        Sync.Entered.Reset();
        Sync.Close();

        var publish = device.PublishAsync("sensors/a/temp", "21.5", qos);
        await Poll.UntilAsync(() => Sync.Entered.IsSet, TimeSpan.FromSeconds(10), "the outbox to reach its fsync");
        // The commit is written and the fsync has begun but not returned: no ack may have left.
        await Assert.ThrowsAsync<TimeoutException>(() => publish.WaitAsync(TimeSpan.FromMilliseconds(300)));

        var synced = Sync.SyncsCompleted;
        Sync.Open();
        var result = await publish.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsSuccess);
        Assert.True(Sync.SyncsCompleted > synced);
    }

    [Fact]
    public async Task A_commit_that_fails_is_refused_to_an_MQTT5_client_and_the_next_publish_is_accepted()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev5", MqttProtocolVersion.V500);
        Sync.FailNext = new IOException("No space left on device");

        var refused = await device.PublishAsync("sensors/a/temp", "1");
        Assert.False(refused.IsSuccess);
        Assert.Contains("No space left on device", refused.ReasonString);

        Assert.True((await device.PublishAsync("sensors/a/temp", "2")).IsSuccess);
    }

    [Fact]
    public async Task A_commit_that_fails_closes_an_MQTT311_connection_without_a_puback()
    {
        await using var device = await MqttTestClient.ConnectAsync(MqttPort, "dev3", MqttProtocolVersion.V311);
        Sync.FailNext = new IOException("Input/output error");

        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync("sensors/a/temp", "1"));
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
    }
}
