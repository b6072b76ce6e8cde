namespace AiProxy.Hosting;

/// <summary>The client's HTTP method, matched as HTTP matches methods (ASCII case-insensitive).</summary>
internal static class ClientMethods
{
    /// <summary>Whether the method is <c>GET</c> (ASCII case-insensitive, as HTTP methods are matched).</summary>
    public static bool IsGet<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
        => string.Equals(client.Method, "GET", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the method is <c>POST</c>.</summary>
    public static bool IsPost<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
        => string.Equals(client.Method, "POST", StringComparison.OrdinalIgnoreCase);
}
