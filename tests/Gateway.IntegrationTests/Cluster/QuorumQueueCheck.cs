namespace Gateway.IntegrationTests.Cluster;

/// <summary>What a consumer of the quorum queue found, deduplicating by <c>message-id</c> as the docs tell consumers to.</summary>
internal sealed record QuorumQueueCheck(int Received, int Distinct, IReadOnlyList<UpstreamMessage> FirstDeliveries)
{
    /// <summary>Deliveries beyond the first of each message id: what the gateway sent again.</summary>
    public int SentAgain => Received - Distinct;

    /// <summary>
    /// Reads the whole queue (the gateway has drained, so its count is final) through a node directly
    /// and checks: every acknowledged payload is there; a message id always carries the same payload
    /// and a payload always the same id; per gateway, first deliveries in sequence order; per sensor,
    /// in publish order.
    /// </summary>
    public static async Task<QuorumQueueCheck> ReadAsync(RabbitMqCluster cluster, string queue, IReadOnlyCollection<string> acked)
    {
        var count = (int)await CountAsync(cluster, queue);
        var received = await QueueReader.ReadAsync(cluster.DirectUri, queue, count, Patience.Delivery);
        Assert.Equal(count, received.Count);

        Assert.All(received, m => Assert.False(string.IsNullOrEmpty(m.MessageId), $"{m.Body} came without a message-id"));
        Assert.All(received.GroupBy(m => m.MessageId), g => Assert.Single(g.Select(m => m.Body).Distinct()));
        Assert.All(received.GroupBy(m => m.Body), g => Assert.Single(g.Select(m => m.MessageId).Distinct()));

        var seen = new HashSet<string>();
        var firsts = received.Where(m => seen.Add(m.MessageId!)).ToList();
        var missing = acked.Except(firsts.Select(m => m.Body)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {acked.Count} acknowledged messages are not in the queue, e.g. {string.Join(", ", missing.Take(5))}");

        AssertInOrder(firsts, m => m.MessageId![..m.MessageId!.LastIndexOf('-')], m => long.Parse(m.Header("x-gateway-seq")), "gateway sequence");
        AssertInOrder(firsts, m => m.Body[..m.Body.LastIndexOf(':')], m => long.Parse(m.Body[(m.Body.LastIndexOf(':') + 1)..]), "sensor publish order");
        return new QuorumQueueCheck(received.Count, firsts.Count, firsts);
    }

    private static void AssertInOrder(List<UpstreamMessage> firsts, Func<UpstreamMessage, string> key, Func<UpstreamMessage, long> position, string what)
    {
        foreach (var group in firsts.GroupBy(key))
        {
            var previous = long.MinValue;
            foreach (var message in group)
            {
                var at = position(message);
                Assert.True(at > previous, $"{group.Key}: {message.Body} ({message.MessageId}) arrived first after a later one in {what}");
                previous = at;
            }
        }
    }

    private static async Task<uint> CountAsync(RabbitMqCluster cluster, string queue)
    {
        await using var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(cluster.DirectUri) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }
}
