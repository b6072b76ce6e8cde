namespace AiProxy.Tokens;

/// <summary>The providers a token's requests may reach (<see cref="ProxyTokenDescriptor.AllowedProviders"/>), as a set
/// that selection asks once per candidate without allocating.</summary>
internal sealed class ProviderScope(IEnumerable<string> names)
{
    private readonly HashSet<string> _names = new(names, StringComparer.OrdinalIgnoreCase);

    public bool Allows(string provider) => _names.Contains(provider);
}
