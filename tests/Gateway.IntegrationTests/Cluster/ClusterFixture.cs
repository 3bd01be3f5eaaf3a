namespace Gateway.IntegrationTests.Cluster;

[CollectionDefinition(Name)]
public sealed class RabbitMqClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "rabbitmq-cluster";
}

/// <summary>One three-node RabbitMQ cluster behind HAProxy, shared by the cluster tests (about 20-30 s to build).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public RabbitMqCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await RabbitMqCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
