using System.Security.Cryptography;
using System.Text;

namespace AiProxy.Tokens;

/// <summary>The SHA-256 of a proxy token's key, as <c>Tokens:{name}:KeySha256</c> and <see cref="IProxyTokenStore"/> use it.</summary>
public static class ProxyTokenHash
{
    /// <summary>The digest's length in bytes (32).</summary>
    public const int Length = SHA256.HashSizeInBytes;

    /// <summary>The SHA-256 of <paramref name="key"/>'s UTF-8 bytes, as lower-case hex (for <c>KeySha256</c> or a database column).</summary>
    /// <param name="key">A token key.</param>
    public static string ComputeHex(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> digest = stackalloc byte[Length];
        Compute(key, digest);
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>Writes the SHA-256 of <paramref name="key"/>'s UTF-8 bytes to <paramref name="destination"/>.</summary>
    /// <param name="key">A token key.</param>
    /// <param name="destination">At least <see cref="Length"/> bytes.</param>
    public static void Compute(ReadOnlySpan<char> key, Span<byte> destination)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        var length = Encoding.UTF8.GetBytes(key, bytes);
        SHA256.HashData(bytes[..length], destination);
        CryptographicOperations.ZeroMemory(bytes[..length]);
    }
}
