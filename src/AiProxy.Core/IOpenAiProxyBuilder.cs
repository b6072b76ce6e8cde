using Microsoft.Extensions.DependencyInjection;

namespace AiProxy;

/// <summary>Returned by <c>AddOpenAiProxy</c>; extensions such as <c>AddSelectionStrategy&lt;T&gt;()</c> hang off it.</summary>
public interface IOpenAiProxyBuilder
{
    /// <summary>The service collection the gateway is registered in.</summary>
    IServiceCollection Services { get; }
}
