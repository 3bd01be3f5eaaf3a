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
    private readonly GatedDiskSync _sync = new();
    private readonly string _dataPath = Directory.CreateTempSubdirectory("gateway-ack-").FullName;
    private readonly int _mqttPort = FreePort.Next();
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        _app = Program.Build(
            [$"--Gateway:Mqtt:Port={_mqttPort}", "--Gateway:Mqtt:BindAddress=127.0.0.1", $"--Gateway:Http:Port={FreePort.Next()}", "--Gateway:Http:BindAddress=127.0.0.1", $"--Gateway:DataPath={_dataPath}", "--Gateway:Id=gw"],
            services => services.AddSingleton<IDiskSync>(_sync));
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _sync.Open();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dataPath, recursive: true);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Puback_is_sent_only_after_the_commit_is_on_disk(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var device = await MqttTestClient.ConnectAsync(_mqttPort, "dev", version);
        // The first commit into new files makes LiteDB flush on its own: get it done before watching.
        var syncedBefore = _sync.SyncsCompleted;
        Assert.True((await device.PublishAsync("sensors/a/temp", "warm-up", qos)).IsSuccess);
        await Poll.UntilAsync(() => _sync.SyncsCompleted > syncedBefore, TimeSpan.FromSeconds(10), "the warm-up's fsync to finish");
        _sync.Entered.Reset();
        _sync.Close();

        var publish = device.PublishAsync("sensors/a/temp", "21.5", qos);
        await Poll.UntilAsync(() => _sync.Entered.IsSet, TimeSpan.FromSeconds(10), "the outbox to reach its fsync");
        // The commit is written and the fsync has begun but not returned: no ack may have left.
        await Assert.ThrowsAsync<TimeoutException>(() => publish.WaitAsync(TimeSpan.FromMilliseconds(300)));

        var synced = _sync.SyncsCompleted;
        _sync.Open();
        var result = await publish.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsSuccess);
        Assert.True(_sync.SyncsCompleted > synced);
    }

    [Fact]
    public async Task A_commit_that_fails_is_refused_to_an_MQTT5_client_and_the_next_publish_is_accepted()
    {
        await using var device = await MqttTestClient.ConnectAsync(_mqttPort, "dev5", MqttProtocolVersion.V500);
        _sync.FailNext = new IOException("No space left on device");

        var refused = await device.PublishAsync("sensors/a/temp", "1");
        Assert.False(refused.IsSuccess);
        Assert.Contains("No space left on device", refused.ReasonString);

        Assert.True((await device.PublishAsync("sensors/a/temp", "2")).IsSuccess);
    }

    [Fact]
    public async Task A_commit_that_fails_closes_an_MQTT311_connection_without_a_puback()
    {
        await using var device = await MqttTestClient.ConnectAsync(_mqttPort, "dev3", MqttProtocolVersion.V311);
        _sync.FailNext = new IOException("Input/output error");

        await Assert.ThrowsAnyAsync<Exception>(() => device.PublishAsync("sensors/a/temp", "1"));
        await Poll.UntilAsync(() => !device.IsConnected, TimeSpan.FromSeconds(10), "the gateway to drop the connection");
    }
}
