namespace AiProxy.Tokens;

/// <summary>An authenticated caller: the token's name (never its key) and what it may use.</summary>
internal sealed class ProxyCaller(string name, IReadOnlyList<string> allowedModels)
{
    public static readonly ProxyCaller Anonymous = new("anonymous", []);

    public string Name { get; } = name;

    public IReadOnlyList<string> AllowedModels { get; } = allowedModels;

    public bool MayUse(string model)
        => AllowedModels.Count == 0 || Providers.ModelPattern.MatchesAny(AllowedModels, model);
}
