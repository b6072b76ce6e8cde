using System.Security.Cryptography;
using AiProxy.RateLimiting;
using Microsoft.Extensions.Options;

namespace AiProxy.Tokens;

/// <summary>
/// The default <see cref="IProxyTokenStore"/>: the tokens of the <c>Tokens</c> configuration section. Keys are held only
/// as SHA-256 digests and compared with <see cref="CryptographicOperations.FixedTimeEquals"/> against every token, so
/// neither timing nor an early exit tells how close a guess was. Rebuilt when configuration changes.
/// </summary>
internal sealed class ProxyTokenValidator : IProxyTokenStore, IDisposable
{
    private readonly TimeProvider _time;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly IDisposable? _subscription;
    private volatile Entry[] _entries = [];

    public ProxyTokenValidator(IOptionsMonitor<OpenAiProxyOptions> options, TimeProvider time)
    {
        _time = time;
        _options = options;
        Load(options.CurrentValue);
        _subscription = options.OnChange(Load);
    }

    public ValueTask<ProxyTokenDescriptor?> FindByKeyHashAsync(ReadOnlyMemory<byte> keySha256, CancellationToken cancellationToken)
        => ValueTask.FromResult(Find(keySha256.Span));

    /// <summary>The caller for <paramref name="presentedKey"/>, or <see langword="null"/> when it is unknown, disabled or expired.</summary>
    public ProxyCaller? Authenticate(ReadOnlySpan<char> presentedKey)
    {
        if (presentedKey.IsEmpty || presentedKey.Length > ProxyTokenAuthenticator.MaxKeyLength)
        {
            return null;
        }

        Span<byte> digest = stackalloc byte[ProxyTokenHash.Length];
        ProxyTokenHash.Compute(presentedKey, digest);
        var token = Find(digest);
        return ProxyTokenAuthenticator.Check(token, _time.GetUtcNow()) == TokenCheck.Valid
            ? ProxyCaller.ForToken(token!, ProxyLimits.From(_options.CurrentValue.DefaultLimits))
            : null;
    }

    private ProxyTokenDescriptor? Find(ReadOnlySpan<byte> digest)
    {
        if (digest.Length != ProxyTokenHash.Length)
        {
            return null;
        }

        ProxyTokenDescriptor? match = null;
        foreach (var entry in _entries)
        {
            // No early exit: every entry is compared.
            if (CryptographicOperations.FixedTimeEquals(entry.Digest, digest))
            {
                match = entry.Token;
            }
        }

        return match;
    }

    private void Load(OpenAiProxyOptions options)
    {
        var entries = new List<Entry>(options.Tokens.Count);
        foreach (var (name, token) in options.Tokens)
        {
            var digest = new byte[ProxyTokenHash.Length];
            if (!string.IsNullOrEmpty(token.Key))
            {
                ProxyTokenHash.Compute(token.Key, digest);
            }
            else if (token.KeySha256 is { Length: ProxyTokenHash.Length * 2 } hex)
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

            var limits = new ProxyLimits(token.RequestsPerMinute, token.TokensPerMinute, token.MaxConcurrentRequests);
            entries.Add(new Entry(digest, new ProxyTokenDescriptor
            {
                Name = name,
                Enabled = token.Enabled,
                ExpiresAt = token.ExpiresAt,
                AllowedModels = token.AllowedModels.ToArray(),
                AllowedPaths = token.AllowedPaths.ToArray(),
                AllowedProviders = token.AllowedProviders.ToArray(),
                IsAdmin = token.Admin,
                Limits = limits.IsUnlimited ? null : limits,
                Budget = token.Budget.Amount is { } amount ? new Budgets.ProxyBudgetLimit(amount, token.Budget.Period) : null,
            }));
        }

        _entries = entries.ToArray();
    }

    public void Dispose() => _subscription?.Dispose();

    private sealed record Entry(byte[] Digest, ProxyTokenDescriptor Token);
}
