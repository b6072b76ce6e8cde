using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>An error the admin API answers, written in OpenAI's shape <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed record AdminError(int Status, string Type, string Code, string Message, string? Param = null)
{
    private const string InvalidRequest = "invalid_request_error";

    public static AdminError BadRequest(string message, string? param = null) => new(400, InvalidRequest, "invalid_request", message, param);

    public static AdminError Unauthorized { get; } = new(401, InvalidRequest, "invalid_api_key",
        "Incorrect or missing proxy token. Send an admin token as 'Authorization: Bearer <token>'.");

    public static AdminError NotAdmin { get; } = new(403, "permission_denied", "permission_denied",
        "This token may not use the admin API: only tokens marked Admin may.");

    public static AdminError TokenNotFound(string name) => new(404, InvalidRequest, "token_not_found", $"No stored token is named '{name}'.", "name");

    public static AdminError TokenExists(string name) => new(409, InvalidRequest, "token_exists", $"A token named '{name}' already exists.", "name");

    public static AdminError ConfiguredName(string name) => new(409, InvalidRequest, "token_exists",
        $"A configured token is named '{name}': a stored token may not shadow it.", "name");

    public static AdminError MethodNotAllowed(string method, string path) => new(405, InvalidRequest, "not_found", $"Method {method} is not allowed for {path}.");

    public static AdminError TooLarge(int limit) => new(413, InvalidRequest, "request_too_large", $"The request body is larger than the limit of {limit} bytes.");

    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (Status == 405)
        {
            response.Headers.Allow = "GET, POST, PATCH, DELETE";
        }

        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", Message);
        writer.WriteString("type", Type);
        if (Param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", Param);
        }

        writer.WriteString("code", Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
