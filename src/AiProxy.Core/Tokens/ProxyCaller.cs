using AiProxy.RateLimiting;

namespace AiProxy.Tokens;

/// <summary>An authenticated caller: the token's (or user's) name, never a key, what it may use and its limits.</summary>
internal sealed class ProxyCaller(string name, IReadOnlyList<string> allowedModels, ProxyLimits limits = default, string? partition = null)
{
    public static readonly ProxyCaller Anonymous = new(AnonymousName, [], default, AnonymousName);

    public const string AnonymousName = "anonymous";

    public string Name { get; } = name;

    public IReadOnlyList<string> AllowedModels { get; } = allowedModels;

    /// <summary>The limits that apply: the token's own, or <c>DefaultLimits</c>.</summary>
    public ProxyLimits Limits { get; } = limits;

    /// <summary>The rate-limit partition: <c>token:{name}</c>, <c>user:{id}</c> or <c>anonymous</c>.</summary>
    public string Partition { get; } = partition ?? "token:" + name;

    public bool MayUse(string model)
        => AllowedModels.Count == 0 || Providers.ModelPattern.MatchesAny(AllowedModels, model);

    public static ProxyCaller ForToken(ProxyTokenDescriptor token, ProxyLimits defaults)
        => new(token.Name, token.AllowedModels, token.Limits is { IsUnlimited: false } own ? own : defaults);

    /// <summary>A user the host app authenticated (tokens off): limited per user with <c>DefaultLimits</c>.</summary>
    public static ProxyCaller ForUser(string id, ProxyLimits defaults) => new("user:" + id, [], defaults, "user:" + id); // prefixed: a user id never passes for a token name

    /// <summary>Anyone, when tokens are off and the host app did not authenticate the request: one shared partition.</summary>
    public static ProxyCaller ForAnonymous(ProxyLimits defaults)
        => defaults.IsUnlimited ? Anonymous : new(AnonymousName, [], defaults, AnonymousName);
}
