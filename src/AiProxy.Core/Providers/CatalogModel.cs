namespace AiProxy.Providers;

/// <summary>One entry of <c>GET /v1/models</c>.</summary>
/// <param name="Id">The model name clients send.</param>
/// <param name="Created">Unix seconds: the provider's own value for discovered models, else when the gateway started.</param>
/// <param name="OwnedBy">The provider that serves it first.</param>
internal sealed record CatalogModel(string Id, long Created, string OwnedBy);
