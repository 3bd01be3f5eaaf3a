using System.Text;
using Gateway.TestUtilities.Fuzzing;

namespace Gateway.IntegrationTests.Fuzzing;

/// <summary>One gateway for the fuzz regressions.</summary>
public sealed class FuzzRegressionGateway : IAsyncLifetime
{
    public GatewayProcess Process { get; } = new();

    public Task InitializeAsync() => Process.StartAsync();

    public async Task DisposeAsync() => await Process.DisposeAsync();
}

/// <summary>
/// Every input the fuzzers (<see cref="GatewayFuzzTests"/>) found to harm the gateway, kept as it was
/// found or cut down to what does it, replayed on one connection against the real process: the
/// connection is closed once the client closed its side, the answer is the one expected, and the
/// gateway logs no error.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class GatewayFuzzRegressionTests(FuzzRegressionGateway fixture) : IClassFixture<FuzzRegressionGateway>
{
    private readonly GatewayProcess _gateway = fixture.Process;

    /// <summary>
    /// Found 2026-12-07 (FUZZ_ITERATIONS=3000, seed 20261207): a SEND whose expires header is past the year
    /// 9999 threw ArgumentOutOfRangeException from DateTimeOffset.FromUnixTimeMilliseconds in the
    /// STOMP bridge; the session ended as an internal error, logged at error level, with no RECEIPT. Such a
    /// time now means no expiry of the message's own, as 0 does.
    /// </summary>
    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("253402300800000")]
    public async Task A_stomp_send_expiring_after_the_year_9999_is_stored_and_receipted(string expires)
    {
        var conversation = Frame("CONNECT\naccept-version:1.2\nhost:gw\n\n")
                           + Frame($"SEND\ndestination:/topic/fuzz.expires\nexpires:{expires}\nreceipt:r1\n\nbody")
                           + Frame("DISCONNECT\nreceipt:bye\n\n");
        var reply = await ReplayAsync(_gateway.StompPort, conversation);
        Assert.Contains("RECEIPT\nreceipt-id:r1", reply);
        Assert.Contains("RECEIPT\nreceipt-id:bye", reply);
        _gateway.AssertNoUnexpectedErrors();
    }

    private static string Frame(string text) => text + "\0";

    private static async Task<string> ReplayAsync(int port, string conversation)
    {
        var input = Encoding.UTF8.GetBytes(conversation);
        var reply = await FuzzConnection.RunAsync(port, new FuzzCase(0, 0, input, "regression", new Random(0)), Patience.Reaction);
        return Encoding.UTF8.GetString(reply);
    }
}
