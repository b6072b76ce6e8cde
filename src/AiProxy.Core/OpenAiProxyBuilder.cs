using Microsoft.Extensions.DependencyInjection;

namespace AiProxy;

internal sealed class OpenAiProxyBuilder(IServiceCollection services) : IOpenAiProxyBuilder
{
    public IServiceCollection Services { get; } = services;
}
