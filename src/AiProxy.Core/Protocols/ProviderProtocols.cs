using System.Collections.Frozen;
using AiProxy.Providers;

namespace AiProxy.Protocols;

/// <summary>The registered <see cref="IProviderProtocol"/>s by <see cref="ProviderOptions.Kind"/>. A provider's kind is
/// validated at start against <see cref="Kinds"/>, so a lookup on the request path always finds one.</summary>
internal sealed class ProviderProtocols
{
    private readonly FrozenDictionary<string, IProviderProtocol> _byKind;
    private readonly IProviderProtocol? _only;

    public ProviderProtocols(IEnumerable<IProviderProtocol> protocols)
    {
        var byKind = new Dictionary<string, IProviderProtocol>(StringComparer.OrdinalIgnoreCase);
        foreach (var protocol in protocols)
        {
            byKind[protocol.Kind] = protocol; // the last registration of a kind wins
        }

        _byKind = byKind.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _only = _byKind.Count == 1 ? _byKind.Values[0] : null; // one kind (today's case): no lookup per attempt
        Kinds = _byKind.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The kinds a provider may name, sorted.</summary>
    public IReadOnlyList<string> Kinds { get; }

    /// <summary>The protocol of <paramref name="provider"/>'s kind.</summary>
    public IProviderProtocol For(ProviderClient provider)
        => _only ?? (_byKind.TryGetValue(provider.Options.Kind, out var protocol)
            ? protocol
            : throw new InvalidOperationException($"Provider '{provider.Name}' has the unknown kind '{provider.Options.Kind}'."));
}
