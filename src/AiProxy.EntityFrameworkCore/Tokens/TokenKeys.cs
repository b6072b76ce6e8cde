using System.Security.Cryptography;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>New keys for stored tokens, and what of them may be shown again.</summary>
internal static class TokenKeys
{
    public const string Prefix = "sk-aiproxy-";

    /// <summary>A fresh key: <see cref="Prefix"/> and 32 random bytes in base64url (256 bits of entropy).</summary>
    public static string Generate()
    {
        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        return Prefix + Convert.ToBase64String(random).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary><c>sk-...abcd</c>: the last four characters, enough to tell keys apart in a list.</summary>
    public static string Display(string key) => "sk-..." + key[^4..];
}
