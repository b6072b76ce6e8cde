namespace AiProxy.Errors;

/// <summary>An error the proxy itself answers, written as <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed class ProxyError(int status, string type, string code, string message, string? param = null)
{
    public const string InvalidRequestType = "invalid_request_error";
    public const string UpstreamErrorType = "upstream_error";
    public const string PermissionDeniedType = "permission_denied";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Code { get; } = code;
    public string Message { get; } = message;
    public string? Param { get; } = param;

    /// <summary>Seconds for a <c>Retry-After</c> header, when the status calls for one.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary><see langword="false"/> writes <c>x-should-retry: false</c>, which tells the OpenAI SDKs not to retry.</summary>
    public bool? ShouldRetry { get; init; }

    public static ProxyError BadRequest(string message, string? param = null)
        => new(400, InvalidRequestType, "invalid_request", message, param);

    public static ProxyError Unauthorized(string message)
        => new(401, InvalidRequestType, "invalid_api_key", message);

    public static ProxyError ModelNotAllowed(string model)
        => new(403, PermissionDeniedType, "model_not_allowed", $"This token may not use the model '{model}'.", "model");

    /// <summary>A request whose model cannot be known (no body, no <c>model</c> in it) from a token limited to some models.</summary>
    public static ProxyError ModelUnknown(string path)
        => new(403, PermissionDeniedType, "model_not_allowed",
            $"This token may use only some models, and the model of this request to {path} cannot be known. List the path in the token's AllowedPaths to allow it.", "model");

    public static ProxyError PathNotAllowed(string path)
        => new(403, PermissionDeniedType, "path_not_allowed", $"This token may not call {path}.");

    public static ProxyError ProviderNotAllowed(string provider)
        => new(403, PermissionDeniedType, "provider_not_allowed", $"This token may not use the provider '{provider}'.");

    /// <summary>A valid token that is not marked <c>Admin</c> asking for what only admins see (<paramref name="what"/>).</summary>
    public static ProxyError AdminOnly(string what)
        => new(403, PermissionDeniedType, "permission_denied", $"Only tokens marked Admin may read {what}.");

    public static ProxyError ModelNotFound(string model)
        => new(404, InvalidRequestType, "model_not_found", $"The model '{model}' does not exist or no provider serves it.", "model");

    public static ProxyError NotFound(string method, string path)
        => new(404, InvalidRequestType, "not_found", $"Unknown request URL: {method} {path}.");

    public static ProxyError MethodNotAllowed(string method, string path)
        => new(405, InvalidRequestType, "not_found", $"Method {method} is not allowed for {path}.");

    public static ProxyError RequestTooLarge(long limit)
        => new(413, InvalidRequestType, "request_too_large", $"The request body is larger than the limit of {limit} bytes.");

    public static ProxyError Timeout(string message)
        => new(504, "timeout", "timeout", message);

    public static ProxyError NoProviderAvailable(string message)
        => new(503, UpstreamErrorType, "no_provider_available", message);
}
