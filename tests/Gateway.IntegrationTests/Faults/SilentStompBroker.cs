using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Gateway.Stomp;

namespace Gateway.IntegrationTests.Faults;

/// <summary>
/// A broker that accepts STOMP connections, answers CONNECT, and then never confirms anything: the
/// "connected but forwarding nothing" link users of other gateways report.
/// </summary>
public sealed class SilentStompBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _connections, _commits;

    public SilentStompBroker()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Uri => $"stomp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
    public int Connections => Volatile.Read(ref _connections);
    public int Commits => Volatile.Read(ref _commits);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = ServeAsync(client); // each connection ends when the gateway drops it or we stop
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var pending = ReadOnlySequence<byte>.Empty;
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0) return;
                    pending = new ReadOnlySequence<byte>([.. pending.ToArray(), .. buffer.AsSpan(0, read).ToArray()]);
                    while (StompFrameReader.TryParse(ref pending, StompLimits.Default, out var frame, out _))
                    {
                        if (frame!.Command is StompCommand.Connect or StompCommand.Stomp)
                        {
                            var reply = new ArrayBufferWriter<byte>();
                            StompFrameWriter.Write(StompFrame.Create(StompCommand.Connected, ("version", "1.2")), reply);
                            await stream.WriteAsync(reply.WrittenMemory, _stop.Token);
                        }
                        else if (frame.Command == StompCommand.Commit)
                        {
                            Interlocked.Increment(ref _commits); // and no RECEIPT, ever
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
