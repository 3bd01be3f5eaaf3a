using System.Collections.Concurrent;
using Gateway.Core.Ingest;
using Gateway.Core.Outbox;

namespace Gateway.UnitTests.Ingest;

/// <summary>
/// The ack rules of one connection, driven as MQTTnet's interceptors drive them: the receive loop
/// announces, holds and refuses publishes; the send loop asks about each ack in turn. Commits are
/// tasks the test completes, so what has not happened yet is a task not yet complete.
/// </summary>
public sealed class AckSequencerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<string> _delivered = new();

    private AckSequencer<string> Sequencer(bool reasonCodes, int maxWaiting = 256, Func<string, Task>? deliver = null) =>
        new(reasonCodes, maxWaiting, deliver ?? (message =>
        {
            _delivered.Enqueue(message);
            return Task.CompletedTask;
        }));

    private static TaskCompletionSource Commit() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Task Failed(Exception error) => Task.FromException(error);

    private static OutboxRejectedException DiskFull() => new(OutboxRejection.StoreFailed, "No space left on device");

    private static async Task<AckAction> ActionOf(Task<AckVerdict<string>> verdict) => (await verdict.WaitAsync(Patience)).Action;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_ack_leaves_only_once_its_commit_is_on_disk_and_its_message_delivered(bool reasonCodes)
    {
        var acks = Sequencer(reasonCodes);
        var commit = Commit();
        acks.Hold(1, commit.Task, "a");

        var verdict = acks.AckLeavingAsync(1);
        Assert.False(verdict.IsCompleted, "the ack was let go before its commit was on disk");
        Assert.Empty(_delivered);

        commit.SetResult();
        var answer = await verdict.WaitAsync(Patience);
        Assert.Equal(AckAction.Send, answer.Action);
        Assert.NotNull(answer.StoreWait);
        Assert.Equal(["a"], _delivered);
    }

    [Fact]
    public async Task Acks_leave_in_the_order_the_publishes_came_and_one_asked_for_out_of_turn_is_withheld_and_closes_the_connection()
    {
        var acks = Sequencer(reasonCodes: true);
        var third = Commit();
        acks.Hold(1, Task.CompletedTask, "a");
        acks.Hold(2, Task.CompletedTask, "b");
        acks.Hold(3, third.Task, "c");
        acks.Hold(4, Task.CompletedTask, "d"); // committed, yet behind "c"

        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(1)));
        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(2)));
        Assert.Equal(AckAction.WithholdAndClose, await ActionOf(acks.AckLeavingAsync(4)));
        third.SetResult();
        Assert.Equal(AckAction.Withhold, await ActionOf(acks.AckLeavingAsync(3))); // none may follow a close
        Assert.Equal(["a", "b"], _delivered);
    }

    [Fact]
    public async Task An_ack_whose_publish_was_never_seen_on_this_connection_is_withheld_and_the_connection_stays()
    {
        var acks = Sequencer(reasonCodes: false);
        Assert.Equal(AckAction.Withhold, await ActionOf(acks.AckLeavingAsync(9)));

        acks.Hold(1, Task.CompletedTask, "a");
        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(1)));
    }

    [Fact]
    public async Task Without_reason_codes_a_refusal_on_arrival_lets_the_earlier_acks_leave_then_closes_and_nothing_after_it_is_acked()
    {
        var acks = Sequencer(reasonCodes: false);
        acks.Hold(1, Task.CompletedTask, "stored-before");
        Assert.False(acks.IsClosing);

        Assert.Equal(ArrivalRefusal.CloseAtItsTurn, acks.RefuseOnArrival(2));
        Assert.True(acks.IsClosing, "what is read after the refusal would be stored");
        acks.Settle(3); // read after the refusal: neither stored nor acked

        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(1)));
        Assert.Equal(AckAction.WithholdAndClose, await ActionOf(acks.AckLeavingAsync(2)));
        Assert.Equal(AckAction.Withhold, await ActionOf(acks.AckLeavingAsync(3)));
        Assert.Equal(["stored-before"], _delivered);
    }

    [Fact]
    public async Task With_reason_codes_a_refusal_on_arrival_is_answered_on_its_ack_and_the_next_publish_is_acked()
    {
        var acks = Sequencer(reasonCodes: true);
        Assert.Equal(ArrivalRefusal.ReasonCode, acks.RefuseOnArrival(1));
        Assert.False(acks.IsClosing);
        acks.Hold(2, Task.CompletedTask, "next");

        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(1)));
        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(2)));
    }

    [Fact]
    public void A_refused_publish_without_an_ack_closes_at_once_when_no_ack_waits_and_after_the_waiting_ones_when_some_do()
    {
        var acks = Sequencer(reasonCodes: false);
        Assert.Equal(ArrivalRefusal.CloseNow, acks.RefuseUnacknowledgedOnArrival());

        acks.Hold(1, Commit().Task, "waiting");
        Assert.Equal(ArrivalRefusal.CloseAfterEarlierAcks, acks.RefuseUnacknowledgedOnArrival());

        var withReasonCodes = Sequencer(reasonCodes: true);
        withReasonCodes.Hold(1, Commit().Task, "waiting");
        Assert.Equal(ArrivalRefusal.ReasonCode, withReasonCodes.RefuseUnacknowledgedOnArrival());
    }

    [Fact]
    public async Task With_reason_codes_a_failed_commit_is_refused_on_its_ack_undelivered_and_the_next_ack_leaves()
    {
        var acks = Sequencer(reasonCodes: true);
        var rejection = DiskFull();
        acks.Hold(1, Failed(rejection), "lost");
        acks.Hold(2, Task.CompletedTask, "kept");

        var refused = await acks.AckLeavingAsync(1).WaitAsync(Patience);
        Assert.Equal(AckAction.SendRefusal, refused.Action);
        Assert.Same(rejection, refused.Rejection);
        Assert.Equal("lost", refused.Message);
        Assert.Equal(AckAction.Send, await ActionOf(acks.AckLeavingAsync(2)));
        Assert.Equal(["kept"], _delivered);
    }

    [Fact]
    public async Task Without_reason_codes_a_failed_commit_withholds_its_ack_and_every_later_one_and_closes_the_connection()
    {
        var acks = Sequencer(reasonCodes: false);
        var rejection = DiskFull();
        acks.Hold(1, Failed(rejection), "lost");
        acks.Hold(2, Task.CompletedTask, "stored-behind");

        var refused = await acks.AckLeavingAsync(1).WaitAsync(Patience);
        Assert.Equal(AckAction.WithholdAndClose, refused.Action);
        Assert.Same(rejection, refused.Rejection);
        Assert.Equal(AckAction.Withhold, await ActionOf(acks.AckLeavingAsync(2)));
    }

    [Fact]
    public async Task A_commit_failing_in_a_way_the_outbox_does_not_name_closes_the_connection_even_with_reason_codes()
    {
        var acks = Sequencer(reasonCodes: true);
        acks.Hold(1, Failed(new ObjectDisposedException("outbox")), "unknown");

        var verdict = await acks.AckLeavingAsync(1).WaitAsync(Patience);
        Assert.Equal(AckAction.WithholdAndClose, verdict.Action);
        Assert.Null(verdict.Rejection);
        Assert.Empty(_delivered);
    }

    [Fact]
    public async Task The_receive_loop_waits_while_the_limit_of_acks_is_waiting_and_reads_on_once_one_leaves()
    {
        var acks = Sequencer(reasonCodes: false, maxWaiting: 3);
        var first = Commit();
        acks.Hold(1, first.Task, "a");
        acks.Hold(2, Task.CompletedTask, "b");
        Assert.True(acks.WaitForRoomAsync(CancellationToken.None).IsCompleted, "two of three waiting is not the limit");
        acks.Settle(3);

        var room = acks.WaitForRoomAsync(CancellationToken.None);
        Assert.False(room.IsCompleted, "a fourth publish would be read with three acks waiting");

        var verdict = acks.AckLeavingAsync(1);
        Assert.False(room.IsCompleted, "room was made before the first ack left");
        first.SetResult();
        Assert.Equal(AckAction.Send, await ActionOf(verdict));
        await room.WaitAsync(Patience);
    }

    [Fact]
    public async Task Waiting_for_room_ends_when_the_connection_goes_away()
    {
        var acks = Sequencer(reasonCodes: false, maxWaiting: 1);
        acks.Hold(1, Commit().Task, "a");
        using var connection = new CancellationTokenSource();

        var room = acks.WaitForRoomAsync(connection.Token);
        connection.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => room.WaitAsync(Patience));
    }

    [Fact]
    public async Task A_publish_delivered_without_an_ack_waits_until_the_earlier_ones_are_delivered()
    {
        var delivery = Commit();
        var acks = Sequencer(reasonCodes: true, deliver: async message =>
        {
            await delivery.Task;
            _delivered.Enqueue(message);
        });
        var first = Commit();
        acks.Hold(1, first.Task, "qos1-first");

        var earlier = acks.WaitForEarlierAcksAsync(CancellationToken.None);
        var seenWhenDone = earlier.ContinueWith(_ => _delivered.ToArray(), TaskScheduler.Default);
        first.SetResult();
        var verdict = acks.AckLeavingAsync(1);
        Assert.False(earlier.IsCompleted, "a later QoS 0 publish would overtake the stored one, committed but not yet delivered");

        delivery.SetResult();
        Assert.Equal(AckAction.Send, await ActionOf(verdict));
        Assert.Equal(["qos1-first"], await seenWhenDone.WaitAsync(Patience));
    }

    [Fact]
    public async Task Stored_messages_whose_acks_had_not_left_are_delivered_in_order_before_the_will_when_the_connection_ends()
    {
        var acks = Sequencer(reasonCodes: false);
        using var connection = new CancellationTokenSource();
        var first = Commit();
        Arrive(acks, 1, connection.Token);
        acks.Hold(1, first.Task, "left-1");
        Arrive(acks, 2, connection.Token);
        acks.Hold(2, Task.CompletedTask, "left-2");
        Assert.True(acks.DeliveredAtEnd.IsCompleted, "a will before the end would wait for nothing");

        connection.Cancel(); // the receive loop ended; the send loop asks no more
        var beforeWill = acks.DeliveredAtEnd;
        Assert.False(beforeWill.IsCompleted, "the will would go before a stored message whose commit is not on disk");
        Assert.Empty(_delivered); // "left-2" is committed, but not before "left-1"

        first.SetResult();
        await beforeWill.WaitAsync(Patience);
        Assert.Equal(["left-1", "left-2"], _delivered);
    }

    [Fact]
    public async Task A_message_whose_delivery_its_ack_began_is_delivered_once_and_the_will_waits_for_that_delivery()
    {
        var gate = Commit();
        var acks = Sequencer(reasonCodes: true, deliver: async message =>
        {
            await gate.Task;
            _delivered.Enqueue(message);
        });
        using var connection = new CancellationTokenSource();
        Arrive(acks, 1, connection.Token);
        acks.Hold(1, Task.CompletedTask, "once");

        var verdict = acks.AckLeavingAsync(1); // delivering, held at the gate
        connection.Cancel();
        var beforeWill = acks.DeliveredAtEnd;
        Assert.False(beforeWill.IsCompleted, "the will would overtake a delivery under way");

        gate.SetResult();
        await beforeWill.WaitAsync(Patience);
        Assert.Equal(AckAction.Send, await ActionOf(verdict));
        Assert.Equal(["once"], _delivered);
    }

    [Fact]
    public void A_publish_the_receive_loop_announced_is_taken_once_with_its_packet_identifier()
    {
        var acks = Sequencer(reasonCodes: true);
        Assert.False(acks.TryTakeAnnounced(out _), "a publish nobody announced was taken for the receive loop's");

        acks.Announce(42, CancellationToken.None);
        Assert.True(acks.TryTakeAnnounced(out var packetId));
        Assert.Equal(42, packetId);
        Assert.False(acks.TryTakeAnnounced(out _), "one announcement was taken for two publishes");
    }

    [Fact]
    public void An_announcement_left_over_when_the_connection_ends_is_not_taken_for_the_will()
    {
        var acks = Sequencer(reasonCodes: true);
        using var connection = new CancellationTokenSource();
        acks.Announce(7, connection.Token); // read, but the receive loop ended before handing it on

        connection.Cancel();
        Assert.False(acks.TryTakeAnnounced(out _), "the will would be taken for a publish of the receive loop");
    }

    /// <summary>A publish read by the receive loop: announced, then taken by the publish interceptor.</summary>
    private static void Arrive(AckSequencer<string> acks, ushort packetId, CancellationToken connection)
    {
        acks.Announce(packetId, connection);
        Assert.True(acks.TryTakeAnnounced(out var taken));
        Assert.Equal(packetId, taken);
    }
}
