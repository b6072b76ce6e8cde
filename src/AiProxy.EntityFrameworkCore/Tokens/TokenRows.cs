using AiProxy.EntityFrameworkCore.Data;
using AiProxy.RateLimiting;
using AiProxy.Tokens;

namespace AiProxy.EntityFrameworkCore.Tokens;

/// <summary>Turns token rows into what the gateway serves (<see cref="ProxyTokenDescriptor"/>) and back.</summary>
internal static class TokenRows
{
    private const char Separator = '\n';

    public static ProxyTokenDescriptor ToDescriptor(StoredToken row)
    {
        var limits = new ProxyLimits(row.RequestsPerMinute, row.TokensPerMinute, row.MaxConcurrentRequests);
        return new ProxyTokenDescriptor
        {
            Name = row.Name,
            Enabled = row.Enabled,
            ExpiresAt = row.ExpiresAt,
            AllowedModels = Split(row.AllowedModels),
            AllowedPaths = Split(row.AllowedPaths),
            AllowedProviders = Split(row.AllowedProviders),
            IsAdmin = row.IsAdmin,
            Limits = limits.IsUnlimited ? null : limits,
        };
    }

    public static string[] Split(string list)
        => list.Length == 0 ? [] : list.Split(Separator, StringSplitOptions.RemoveEmptyEntries);

    public static string Join(IEnumerable<string> items) => string.Join(Separator, items);
}
