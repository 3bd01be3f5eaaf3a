using System.Net.Sockets;
using Gateway.TestUtilities.Fuzzing;

namespace Gateway.IntegrationTests.Fuzzing;

/// <summary>One hostile client: a mutated conversation written in pieces, its side closed, then read until the gateway closes too.</summary>
internal static class FuzzConnection
{
    /// <summary>
    /// Sends <paramref name="fuzzCase"/> to <paramref name="port"/> and waits for the gateway to close
    /// the connection. Whatever the gateway makes of the bytes, a client that said all it had to say and
    /// closed its side must not hold a connection open: one still open after <paramref name="patience"/> is a hang.
    /// </summary>
    /// <returns>The bytes the gateway wrote back.</returns>
    public static async Task<byte[]> RunAsync(int port, FuzzCase fuzzCase, TimeSpan patience)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        var received = new MemoryStream();
        var reading = ReadUntilClosedAsync(socket, patience, received);
        try
        {
            foreach (var chunk in fuzzCase.Chunks()) await socket.SendAsync(chunk);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The gateway refused the stream part-way and reset the connection: closed, as it should be.
        }
        if (!await reading)
            throw new TimeoutException($"the gateway did not close the connection within {patience.TotalSeconds} s of the client closing its side");
        return received.ToArray();
    }

    /// <summary>True once the gateway closed (end of stream or a reset); false when <paramref name="patience"/> ran out first.</summary>
    private static async Task<bool> ReadUntilClosedAsync(Socket socket, TimeSpan patience, MemoryStream received)
    {
        using var deadline = new CancellationTokenSource(patience);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (read == 0) return true;
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
