namespace Gateway.IntegrationTests.ActiveMq;

[CollectionDefinition(Name)]
public sealed class ActiveMqCollection : ICollectionFixture<ActiveMqFixture>
{
    public const string Name = "activemq";
}

/// <summary>One ActiveMQ broker (with a TLS connector) shared by the tests of the collection.</summary>
public sealed class ActiveMqFixture : IAsyncLifetime
{
    public ActiveMqBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync() => Broker = await ActiveMqBroker.StartAsync(tls: true);

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}
