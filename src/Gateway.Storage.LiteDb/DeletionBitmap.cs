namespace Gateway.Storage.LiteDb;

/// <summary>
/// One bit per message of a chunk, set once the message is gone (confirmed everywhere, dropped,
/// expired, lost with a damaged chunk). A missing bitmap (null) means nothing is gone.
/// </summary>
internal static class DeletionBitmap
{
    public static byte[] For(int messages) => new byte[(messages + 7) >> 3];

    public static bool IsSet(byte[]? bits, int i) => bits is not null && (i >> 3) < bits.Length && (bits[i >> 3] & (1 << (i & 7))) != 0;

    public static void Set(byte[] bits, int i) => bits[i >> 3] |= (byte)(1 << (i & 7));

    public static int CountSet(byte[]? bits, int messages)
    {
        var set = 0;
        for (var i = 0; i < messages; i++) set += IsSet(bits, i) ? 1 : 0;
        return set;
    }
}
