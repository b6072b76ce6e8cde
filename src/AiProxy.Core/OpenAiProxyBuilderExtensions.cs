using AiProxy;
using AiProxy.Selection;
using AiProxy.Usage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Extensions of the builder <c>AddOpenAiProxy</c> returns.</summary>
public static class OpenAiProxyBuilderExtensions
{
    /// <summary>Registers a selection strategy; it is then accepted by its <see cref="ISelectionStrategy.Name"/>
    /// in <c>DefaultStrategy</c> and <c>X-Proxy-Strategy</c>. A strategy with a built-in's name replaces it.</summary>
    /// <typeparam name="TStrategy">The strategy type, created once as a singleton.</typeparam>
    /// <param name="builder">The gateway builder.</param>
    /// <returns>The same builder.</returns>
    public static IOpenAiProxyBuilder AddSelectionStrategy<TStrategy>(this IOpenAiProxyBuilder builder)
        where TStrategy : class, ISelectionStrategy
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<ISelectionStrategy, TStrategy>();
        return builder;
    }

    /// <summary>Registers an observer that receives a <see cref="ProxyUsageRecord"/> for every forwarded request
    /// (token name, provider, models, status, timings, token usage), for billing or audit.</summary>
    /// <typeparam name="TObserver">The observer type, created once as a singleton.</typeparam>
    /// <param name="builder">The gateway builder.</param>
    /// <returns>The same builder.</returns>
    public static IOpenAiProxyBuilder AddUsageObserver<TObserver>(this IOpenAiProxyBuilder builder)
        where TObserver : class, IProxyUsageObserver
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IProxyUsageObserver, TObserver>();
        return builder;
    }
}
