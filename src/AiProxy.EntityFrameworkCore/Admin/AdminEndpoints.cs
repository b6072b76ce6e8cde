using System.Globalization;
using System.Text.Json;
using AiProxy.EntityFrameworkCore.Data;
using Microsoft.AspNetCore.Http;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>
/// The admin API's handlers: <c>/admin/tokens</c> (GET list by name, <c>?limit=</c> (100, at most 1000) and <c>?after=</c>
/// a name, with <c>has_more</c> as OpenAI's lists; POST create), <c>/admin/tokens/{name}</c> (GET, PATCH,
/// DELETE), <c>/admin/tokens/{name}/rotate</c> (POST), <c>/admin/audit</c> and <c>/admin/usage</c> (GET). Every one
/// needs an admin token first; errors are OpenAI-shaped. Key material leaves only in the answer to a create or rotate.
/// </summary>
internal sealed class AdminEndpoints(AdminAuthentication authentication, TokenAdministration tokens, UsageReport usage)
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int DefaultAuditLimit = 100;
    public const int MaxAuditLimit = 1000;
    public const int DefaultListLimit = 100;
    public const int MaxListLimit = 1000;

    public Task TokensAsync(HttpContext context) => RunAsync(context, async actor =>
    {
        if (HttpMethods.IsGet(context.Request.Method))
        {
            if (!TryLimit(context, DefaultListLimit, MaxListLimit, out var limit))
            {
                await LimitError(MaxListLimit).WriteAsync(context).ConfigureAwait(false);
                return;
            }

            var after = context.Request.Query["after"].Count > 0 ? context.Request.Query["after"].ToString() : null;
            var (page, hasMore) = await tokens.ListAsync(after, limit, context.RequestAborted).ConfigureAwait(false);
            await WriteJsonAsync(context, 200, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("object", "list");
                writer.WriteStartArray("data");
                foreach (var token in page)
                {
                    TokenJson.Write(writer, token);
                }

                writer.WriteEndArray();
                if (page.Count > 0)
                {
                    writer.WriteString("first_id", page[0].Name);
                    writer.WriteString("last_id", page[^1].Name);
                }

                writer.WriteBoolean("has_more", hasMore);
                writer.WriteEndObject();
            }).ConfigureAwait(false);
            return;
        }

        if (!HttpMethods.IsPost(context.Request.Method))
        {
            await AdminError.MethodNotAllowed(context.Request.Method, context.Request.Path).WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var (request, error) = await ReadBodyAsync(context, create: true).ConfigureAwait(false);
        var outcome = error is null ? await tokens.CreateAsync(actor, request!, context.RequestAborted).ConfigureAwait(false) : new(error);
        await WriteOutcomeAsync(context, outcome, 201).ConfigureAwait(false);
    });

    public Task TokenAsync(HttpContext context) => RunAsync(context, async actor =>
    {
        var name = Name(context);
        var method = context.Request.Method;
        TokenAdministration.Outcome outcome;
        if (HttpMethods.IsGet(method))
        {
            var token = await tokens.GetAsync(name, context.RequestAborted).ConfigureAwait(false);
            outcome = token is null ? new(AdminError.TokenNotFound(name)) : new(token, null);
        }
        else if (HttpMethods.IsPatch(method))
        {
            var (request, error) = await ReadBodyAsync(context, create: false).ConfigureAwait(false);
            outcome = error is null ? await tokens.UpdateAsync(actor, name, request!, context.RequestAborted).ConfigureAwait(false) : new(error);
        }
        else if (HttpMethods.IsDelete(method))
        {
            outcome = await tokens.DeleteAsync(actor, name, context.RequestAborted).ConfigureAwait(false);
            if (outcome.Error is null)
            {
                await WriteJsonAsync(context, 200, writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteString("object", "proxy_token.deleted");
                    writer.WriteString("name", name);
                    writer.WriteBoolean("deleted", true);
                    writer.WriteEndObject();
                }).ConfigureAwait(false);
                return;
            }
        }
        else
        {
            outcome = new(AdminError.MethodNotAllowed(method, context.Request.Path));
        }

        await WriteOutcomeAsync(context, outcome, 200).ConfigureAwait(false);
    });

    public Task RotateAsync(HttpContext context) => RunAsync(context, async actor =>
    {
        var outcome = HttpMethods.IsPost(context.Request.Method)
            ? await tokens.RotateAsync(actor, Name(context), context.RequestAborted).ConfigureAwait(false)
            : new(AdminError.MethodNotAllowed(context.Request.Method, context.Request.Path));
        await WriteOutcomeAsync(context, outcome, 200).ConfigureAwait(false);
    });

    public Task AuditAsync(HttpContext context) => RunAsync(context, async _ =>
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            await AdminError.MethodNotAllowed(context.Request.Method, context.Request.Path).WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (!TryLimit(context, DefaultAuditLimit, MaxAuditLimit, out var limit))
        {
            await LimitError(MaxAuditLimit).WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var target = context.Request.Query["token"].Count > 0 ? context.Request.Query["token"].ToString() : null;
        var entries = await tokens.AuditAsync(target, limit, context.RequestAborted).ConfigureAwait(false);
        await WriteJsonAsync(context, 200, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var entry in entries)
            {
                WriteAudit(writer, entry);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    });

    public Task UsageAsync(HttpContext context) => RunAsync(context, async _ =>
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            await AdminError.MethodNotAllowed(context.Request.Method, context.Request.Path).WriteAsync(context).ConfigureAwait(false);
            return;
        }

        await usage.HandleAsync(context).ConfigureAwait(false);
    });

    private async Task RunAsync(HttpContext context, Func<string, Task> handle)
    {
        var (actor, error) = await authentication.AuthenticateAsync(context).ConfigureAwait(false);
        if (error is not null)
        {
            await error.WriteAsync(context).ConfigureAwait(false);
            return;
        }

        await handle(actor!).ConfigureAwait(false);
    }

    private static bool TryLimit(HttpContext context, int defaultLimit, int maxLimit, out int limit)
    {
        var text = context.Request.Query["limit"];
        if (text.Count == 0)
        {
            limit = defaultLimit;
            return true;
        }

        return int.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit >= 1 && limit <= maxLimit;
    }

    private static AdminError LimitError(int maxLimit) => AdminError.BadRequest($"'limit' must be a whole number from 1 to {maxLimit}.", "limit");

    private static string Name(HttpContext context) => context.Request.RouteValues["name"] as string ?? "";

    private static async Task<(TokenRequest? Request, AdminError? Error)> ReadBodyAsync(HttpContext context, bool create)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (null, AdminError.TooLarge(MaxBodyBytes));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return (null, AdminError.TooLarge(MaxBodyBytes));
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            return TokenRequest.Parse(document.RootElement, create);
        }
        catch (JsonException)
        {
            return (null, AdminError.BadRequest("The request body is not valid JSON."));
        }
    }

    private static Task WriteOutcomeAsync(HttpContext context, TokenAdministration.Outcome outcome, int status)
        => outcome.Error is { } error
            ? error.WriteAsync(context)
            : WriteJsonAsync(context, status, writer => TokenJson.Write(writer, outcome.Token!, outcome.Key));

    private static void WriteAudit(Utf8JsonWriter writer, AuditEntry entry)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "proxy_audit_entry");
        writer.WriteNumber("id", entry.Id);
        writer.WriteString("at", entry.At);
        writer.WriteString("actor", entry.Actor);
        writer.WriteString("action", entry.Action);
        writer.WriteString("token", entry.Target);
        writer.WritePropertyName("before");
        if (entry.Before is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteRawValue(entry.Before, skipInputValidation: true);
        }

        writer.WritePropertyName("after");
        if (entry.After is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteRawValue(entry.After, skipInputValidation: true);
        }

        writer.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";

        // Answers that may carry a key must not be kept by any cache on the way.
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        write(writer);
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
