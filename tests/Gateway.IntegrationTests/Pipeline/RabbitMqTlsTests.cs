namespace Gateway.IntegrationTests.Pipeline;

/// <summary>amqps:// to a RabbitMQ TLS listener whose certificate a private CA signed.</summary>
public sealed class RabbitMqTlsTests : IAsyncLifetime
{
    private RabbitMqNode _node = null!;

    public async Task InitializeAsync() => _node = await RabbitMqNode.StartAsync(tls: true);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private GatewayProcess Gateway(string prefix, string caFile) => new(new GatewaySettings()
        .Upstream("cloud", _node.AmqpsUri).Route($"{prefix}/#", "cloud")
        .Set("Gateway__Upstreams__cloud__CaFile", caFile).Build());

    [Fact]
    public async Task A_certificate_from_the_configured_CA_is_trusted_and_messages_flow()
    {
        const string prefix = "tls";
        await _node.DeclareQueueBoundAsync("tls-q", "amq.topic", $"{prefix}.#");
        await using var gateway = Gateway(prefix, _node.Certificates!.CaPemFile);
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        var acked = await device.PublishSequenceAsync($"{prefix}/dev/temp", "dev", 100);

        var received = await QueueReader.ReadAsync(_node.AmqpUri, "tls-q", 100, Patience.Delivery);
        Assert.Equal(acked, received.Select(m => m.Body));
        Assert.Contains($"connected to amqps://127.0.0.1:{_node.AmqpsPort}/", gateway.Output);
    }

    [Fact]
    public async Task A_certificate_from_another_CA_is_refused_with_a_clear_error_and_nothing_is_lost()
    {
        await using var gateway = Gateway("untrusted", _node.Certificates!.OtherCaPemFile);
        await gateway.StartAsync();
        await using var device = await MqttTestClient.ConnectAsync(gateway.MqttPort, "dev");

        await device.PublishSequenceAsync("untrusted/dev/temp", "dev", 10);

        await Poll.UntilAsync(() => gateway.Output.Contains($"TLS to 127.0.0.1:{_node.AmqpsPort} failed"), Patience.Delivery, "the TLS failure to be logged");
        Assert.Contains("is the broker's certificate trusted?", gateway.Output);
        Assert.Equal(10, await gateway.MetricAsync("outbox_messages"));
    }
}
