using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace AiProxy.Tokens;

/// <summary>
/// Checks presented keys against the configured tokens. Keys are held only as SHA-256 digests and compared
/// with <see cref="CryptographicOperations.FixedTimeEquals"/> against every token, so neither timing nor an
/// early exit tells how close a guess was. Rebuilt when configuration changes.
/// </summary>
internal sealed class ProxyTokenValidator : IDisposable
{
    private readonly TimeProvider _time;
    private readonly IDisposable? _subscription;
    private volatile Entry[] _entries = [];

    public ProxyTokenValidator(IOptionsMonitor<OpenAiProxyOptions> options, TimeProvider time)
    {
        _time = time;
        Load(options.CurrentValue);
        _subscription = options.OnChange(Load);
    }

    /// <summary>The caller for <paramref name="presentedKey"/>, or <see langword="null"/> when it is unknown, disabled or expired.</summary>
    public ProxyCaller? Authenticate(ReadOnlySpan<char> presentedKey)
    {
        if (presentedKey.IsEmpty || presentedKey.Length > 4096)
        {
            return null;
        }

        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        HashKey(presentedKey, digest);
        Entry? match = null;
        foreach (var entry in _entries)
        {
            // No early exit: every entry is compared.
            if (CryptographicOperations.FixedTimeEquals(entry.Digest, digest))
            {
                match = entry;
            }
        }

        if (match is null || !match.Enabled || (match.ExpiresAt is { } expires && _time.GetUtcNow() >= expires))
        {
            return null;
        }

        return match.Caller;
    }

    internal static void HashKey(ReadOnlySpan<char> key, Span<byte> digest)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(key.Length);
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        var length = Encoding.UTF8.GetBytes(key, bytes);
        SHA256.HashData(bytes[..length], digest);
        CryptographicOperations.ZeroMemory(bytes[..length]);
    }

    private void Load(OpenAiProxyOptions options)
    {
        var entries = new List<Entry>(options.Tokens.Count);
        foreach (var (name, token) in options.Tokens)
        {
            var digest = new byte[SHA256.HashSizeInBytes];
            if (!string.IsNullOrEmpty(token.Key))
            {
                HashKey(token.Key, digest);
            }
            else if (token.KeySha256 is { Length: SHA256.HashSizeInBytes * 2 } hex)
            {
                try
                {
                    Convert.FromHexString(hex).CopyTo(digest, 0);
                }
                catch (FormatException)
                {
                    continue; // reported by validation
                }
            }
            else
            {
                continue;
            }

            entries.Add(new Entry(digest, token.Enabled, token.ExpiresAt, new ProxyCaller(name, token.AllowedModels.ToArray())));
        }

        _entries = entries.ToArray();
    }

    public void Dispose() => _subscription?.Dispose();

    private sealed record Entry(byte[] Digest, bool Enabled, DateTimeOffset? ExpiresAt, ProxyCaller Caller);
}
