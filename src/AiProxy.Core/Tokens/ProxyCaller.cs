using AiProxy.Providers;
using AiProxy.RateLimiting;

namespace AiProxy.Tokens;

/// <summary>An authenticated caller: the token's (or user's) name, never a key, what it may use and its limits.</summary>
internal sealed class ProxyCaller(string name, IReadOnlyList<string> allowedModels, ProxyLimits limits = default, string? partition = null)
{
    public static readonly ProxyCaller Anonymous = new(AnonymousName, [], default, AnonymousName);

    public const string AnonymousName = "anonymous";

    public string Name { get; } = name;

    public IReadOnlyList<string> AllowedModels { get; } = allowedModels;

    /// <summary>Globs over the path after the prefix that the caller may call; empty means every path.</summary>
    public IReadOnlyList<string> AllowedPaths { get; private init; } = [];

    /// <summary>The providers the caller's requests may reach, or <see langword="null"/> for every provider.</summary>
    public ProviderScope? Providers { get; private init; }

    /// <summary>A token marked <c>Admin</c>: <c>/status</c> shows it everything.</summary>
    public bool IsAdmin { get; private init; }

    /// <summary>The limits that apply: the token's own, or <c>DefaultLimits</c>.</summary>
    public ProxyLimits Limits { get; } = limits;

    /// <summary>The token's spending cap, or <see langword="null"/> for none.</summary>
    public Budgets.ProxyBudgetLimit? Budget { get; private init; }

    /// <summary>The rate-limit partition: <c>token:{name}</c>, <c>user:{id}</c> or <c>anonymous</c>.</summary>
    public string Partition { get; } = partition ?? "token:" + name;

    public bool MayUse(string model)
        => AllowedModels.Count == 0 || ModelPattern.MatchesAny(AllowedModels, model);

    /// <summary>Whether the caller may call <paramref name="path"/>, the path after the prefix (<c>/v1/files</c>).</summary>
    public bool MayCall(string path)
        => AllowedPaths.Count == 0 || ModelPattern.MatchesAny(AllowedPaths, path);

    /// <summary>Whether the caller's requests may reach the provider named <paramref name="provider"/>.</summary>
    public bool MayReach(string provider) => Providers is null || Providers.Allows(provider);

    /// <summary>Whether a request whose model cannot be known (no body to read one from, or no model in it) may go on to
    /// <paramref name="path"/>: a caller limited to some models must list the path in its <see cref="AllowedPaths"/>.</summary>
    public bool MayCallWithoutModel(string path)
        => AllowedModels.Count == 0 || (AllowedPaths.Count > 0 && ModelPattern.MatchesAny(AllowedPaths, path));

    public static ProxyCaller ForToken(ProxyTokenDescriptor token, ProxyLimits defaults)
        => new(token.Name, token.AllowedModels, token.Limits is { IsUnlimited: false } own ? own : defaults)
        {
            AllowedPaths = token.AllowedPaths,
            Providers = token.ProviderScope,
            IsAdmin = token.IsAdmin,
            Budget = token.Budget,
        };

    /// <summary>A user the host app authenticated (tokens off): limited per user with <c>DefaultLimits</c>.</summary>
    public static ProxyCaller ForUser(string id, ProxyLimits defaults) => new("user:" + id, [], defaults, "user:" + id); // prefixed: a user id never passes for a token name

    /// <summary>Anyone, when tokens are off and the host app did not authenticate the request: one shared partition.</summary>
    public static ProxyCaller ForAnonymous(ProxyLimits defaults)
        => defaults.IsUnlimited ? Anonymous : new(AnonymousName, [], defaults, AnonymousName);
}
