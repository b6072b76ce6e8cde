using AiProxy.Errors;

namespace AiProxy.Protocols;

/// <summary>
/// Thrown by <see cref="IProviderProtocol.BuildRequest"/> when the provider's kind cannot express the request (a path it
/// does not serve, a field it has no equivalent for): the attempt fails with <see cref="Error"/> before anything is sent,
/// and another candidate may still take the request.
/// </summary>
internal sealed class ProtocolRefusalException(ProxyError error) : Exception(error.Message)
{
    /// <summary>The error the client gets when no other candidate takes the request.</summary>
    public ProxyError Error { get; } = error;
}
