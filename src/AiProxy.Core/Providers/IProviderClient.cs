using AiProxy.Health;

namespace AiProxy.Providers;

/// <summary>
/// One configured upstream provider as the gateway sees it: its settings (never its key) and a way to
/// send it requests authenticated with its key.
/// </summary>
public interface IProviderClient
{
    /// <summary>The provider's name from configuration.</summary>
    string Name { get; }

    /// <summary>The base URL endpoint paths are appended to, always ending with <c>/</c>.</summary>
    Uri BaseUrl { get; }

    /// <summary>Order for the <c>failover</c> strategy: lower goes first.</summary>
    int Priority { get; }

    /// <summary>Relative weight for weighted strategies.</summary>
    double Weight { get; }

    /// <summary>Whether the provider takes traffic.</summary>
    bool Enabled { get; }

    /// <summary>The configured model list (may hold globs); empty means every model.</summary>
    IReadOnlyList<string> Models { get; }

    /// <summary>Requests currently in flight to this provider (until their responses are fully relayed).</summary>
    int InFlight { get; }

    /// <summary>The provider's current numbers and health: what the strategies and <c>/status</c> read.</summary>
    ProviderSnapshot GetSnapshot();

    /// <summary>Whether the provider serves <paramref name="model"/>: its model list names it (globs allowed),
    /// a mapping for it names it, or its model list is empty.</summary>
    bool ServesModel(string model);

    /// <summary>Sends <paramref name="request"/> to the provider with its key and configured headers added.
    /// A relative request URI is resolved against <see cref="BaseUrl"/>. The caller owns the response.</summary>
    /// <exception cref="ArgumentException">The request URI (once resolved) is not under <see cref="BaseUrl"/>: another
    /// scheme, host or port, a path outside the base path, or a dot segment, <c>;</c>, <c>\</c>, <c>//</c> or encoded
    /// <c>.</c>, <c>/</c>, <c>\</c> in the path. The key is never attached to such a request.</exception>
    Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken);
}
