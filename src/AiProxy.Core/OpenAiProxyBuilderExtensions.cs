using AiProxy;
using AiProxy.Selection;

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
}
