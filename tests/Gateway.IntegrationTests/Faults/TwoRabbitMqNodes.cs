namespace Gateway.IntegrationTests.Faults;

/// <summary>Two private RabbitMQ nodes, not clustered: an active/standby pair of endpoints.</summary>
public sealed class TwoRabbitMqNodes : IAsyncLifetime
{
    public RabbitMqNode First { get; private set; } = null!;
    public RabbitMqNode Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var first = RabbitMqNode.StartAsync();
        var second = RabbitMqNode.StartAsync();
        (First, Second) = (await first, await second);
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
    }
}
