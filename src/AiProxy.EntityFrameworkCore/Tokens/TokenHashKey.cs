using System.Buffers.Binary;
using AiProxy.Tokens;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>A SHA-256 digest as a dictionary key: four words, compared and hashed without allocating. Looking a digest up
/// by equality tells an attacker nothing about the key behind it, so no constant-time compare is needed here.</summary>
internal readonly record struct TokenHashKey(ulong A, ulong B, ulong C, ulong D)
{
    public static bool TryCreate(ReadOnlySpan<byte> digest, out TokenHashKey key)
    {
        if (digest.Length != ProxyTokenHash.Length)
        {
            key = default;
            return false;
        }

        key = new TokenHashKey(
            BinaryPrimitives.ReadUInt64LittleEndian(digest),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[24..]));
        return true;
    }

    public static bool TryParse(string hex, out TokenHashKey key)
    {
        Span<byte> digest = stackalloc byte[ProxyTokenHash.Length];
        if (hex.Length != ProxyTokenHash.Length * 2 || Convert.FromHexString(hex, digest, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            key = default;
            return false;
        }

        return TryCreate(digest, out key);
    }

    // The digest is uniformly random already: its first word is as good a hash code as any.
    public override int GetHashCode() => (int)A;
}
