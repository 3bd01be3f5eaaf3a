namespace Gateway.IntegrationTests.Faults;

public sealed class CorruptStoreTests
{
    [Fact]
    public async Task A_gateway_whose_store_is_corrupt_moves_it_aside_says_so_and_keeps_serving()
    {
        var dataPath = Directory.CreateTempSubdirectory("gateway-corrupt-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dataPath, "outbox.db"), Enumerable.Range(0, 100_000).Select(i => (byte)(i * 31 % 253)).ToArray());
            await using var gateway = new GatewayProcess(dataPath: dataPath)
                .ExpectErrors(GatewayErrors.StoreMovedAside); // what this test provokes
            await gateway.StartAsync();

            await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");
            Assert.True((await device.PublishAsync("sensors/a/temp", "21.5")).IsSuccess);

            Assert.Single(Directory.GetFiles(dataPath, "outbox.db.corrupt-*"));
            Assert.Equal(1, await gateway.MetricAsync("outbox_corrupt_stores_total"));
            Assert.Equal(1, await gateway.MetricAsync("outbox_messages"));
            Assert.Contains("could not be opened", gateway.Output);
            Assert.Contains("moved aside to", gateway.Output);
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
    }
}
