using Gateway.Storage.LiteDb;

namespace Gateway.UnitTests.Outbox;

public sealed class OpenStoreTests
{
    [Fact]
    public async Task A_new_store_has_every_collection_before_its_first_message_and_no_document_of_the_making_is_left()
    {
        // A collection created by the writer while a forwarder reads it can close LiteDB's engine
        // ("page type must be collection page", LiteDB issue 2792): none may be left to the first insert.
        await using var folder = new OutboxFolder();
        var outbox = folder.Open();
        await outbox.DisposeAsync();

        folder.WithStore(db =>
        {
            foreach (var name in OpenStore.Collections)
            {
                Assert.True(db.CollectionExists(name), $"collection '{name}' does not exist after the first opening");
                Assert.Null(db.GetCollection(name).FindById(long.MinValue));
            }
        });
    }
}
