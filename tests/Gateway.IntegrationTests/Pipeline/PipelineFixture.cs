namespace Gateway.IntegrationTests.Pipeline;

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}

/// <summary>One private RabbitMQ node shared by the pipeline tests (they run one after another).</summary>
public sealed class PipelineFixture : IAsyncLifetime
{
    public RabbitMqNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await RabbitMqNode.StartAsync();

    public async Task DisposeAsync() => await Node.DisposeAsync();
}
