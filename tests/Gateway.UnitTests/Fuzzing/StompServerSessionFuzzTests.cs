using System.Buffers;
using Gateway.Stomp;
using Gateway.Stomp.Server;
using Gateway.TestUtilities.Fuzzing;
using Gateway.UnitTests.Stomp;

namespace Gateway.UnitTests.Fuzzing;

/// <summary>
/// The STOMP server session on mutated conversations fed in random pieces over an in-memory pipe,
/// with a backend that delivers to every subscription (so ACK, NACK and their transactions have
/// messages to settle) and refuses some destinations. Every session must end once the client's side
/// is closed, by a reason of its own: never <see cref="StompCloseKind.InternalError"/>, never a hang.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class StompServerSessionFuzzTests
{
    private static readonly StompServerOptions Options = new()
    {
        // Short, so a mutated heart-beat header negotiates intervals the session's timer really runs
        // (and a slow run may end a session by heart-beat timeout, a reason of its own).
        HeartbeatSend = TimeSpan.FromMilliseconds(20),
        HeartbeatReceive = TimeSpan.FromMilliseconds(20),
        Limits = StompReaderTarget.SmallLimits with { MaxBodyBytes = 256, MaxLineBytes = 128, MaxHeaderBytes = 512 },
        MaxPendingMessages = 4,
        MaxSubscriptionsPerConnection = 3,
        MaxOpenTransactions = 2,
        MaxTransactionFrames = 8,
        MaxTransactionBytes = 512,
        CloseGrace = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public Task Mutated_conversations_end_every_session_by_a_reason_of_its_own() =>
        FuzzRunner.RunAsync(FuzzProtocol.Stomp, 1_500, RunSessionAsync);

    private static async Task RunSessionAsync(FuzzCase fuzzCase)
    {
        var transport = new PipeTransport();
        var session = new StompServerSession("s1", transport, new DeliveringBackend(), Options);
        var running = session.RunAsync(CancellationToken.None);
        var drained = DrainAsync(transport.ToClient);
        foreach (var chunk in fuzzCase.Chunks())
        {
            if ((await transport.FromClient.WriteAsync(chunk)).IsCompleted) break; // the session stopped reading: it is closing
        }
        await transport.FromClient.CompleteAsync();

        await running.WaitAsync(Patience.Reaction);
        await drained.WaitAsync(Patience.Reaction);
        Assert.True(session.CloseKind is not StompCloseKind.InternalError, $"the session failed inside: {session.Fault}");
        Assert.NotNull(session.CloseKind);
    }

    /// <summary>Reads everything the session writes until it closes, as a client that keeps up.</summary>
    private static async Task DrainAsync(System.IO.Pipelines.PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return;
        }
    }

    /// <summary>Two messages to each new subscription at once; a SEND to a destination containing "refused" is refused.</summary>
    private sealed class DeliveringBackend : IStompBackend
    {
        public ValueTask SendAsync(IReadOnlyList<StompFrame> sends, bool durable, CancellationToken cancellationToken) =>
            sends.Any(s => s["destination"]!.Contains("refused", StringComparison.Ordinal))
                ? throw new StompRefusedException("refused by the fuzz backend")
                : ValueTask.CompletedTask;

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public IDisposable Subscribe(StompSubscription subscription)
        {
            if (subscription.Destination.Contains("refused", StringComparison.Ordinal)) throw new StompRefusedException("not served by the fuzz backend");
            for (var i = 0; i < 2; i++) subscription.Deliver("/topic/fuzz", [new("content-type", "text/plain")], new byte[] { (byte)'m', (byte)i });
            return new Unsubscribe();
        }

        private sealed class Unsubscribe : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
