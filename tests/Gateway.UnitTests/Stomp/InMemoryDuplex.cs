using System.IO.Pipelines;

namespace Gateway.UnitTests.Stomp;

/// <summary>Two connected in-memory streams, a client's and a scripted broker's: no sockets.</summary>
internal static class InMemoryDuplex
{
    public static (Stream Client, Stream Broker) Create()
    {
        var toBroker = new Pipe();
        var toClient = new Pipe();
        return (new End(toClient.Reader, toBroker.Writer), new End(toBroker.Reader, toClient.Writer));
    }

    private sealed class End(PipeReader input, PipeWriter output) : Stream
    {
        private readonly Stream _read = input.AsStream();
        private readonly Stream _write = output.AsStream();

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _read.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _read.ReadAsync(buffer, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => _write.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _write.WriteAsync(buffer, cancellationToken);
        public override void Flush() => _write.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _write.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                input.Complete();
                output.Complete();
            }
            base.Dispose(disposing);
        }
    }
}
