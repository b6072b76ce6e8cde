using System.Buffers;
using System.Text;
using System.Text.Json;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.EntityFrameworkCore.Tokens;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>A stored token as the admin API shows it and the audit trail records it: everything but the key and its
/// digest (only the display prefix <c>sk-...abcd</c>).</summary>
internal static class TokenJson
{
    public static void Write(Utf8JsonWriter writer, StoredToken token, string? key = null)
    {
        writer.WriteStartObject();
        writer.WriteString("object", "proxy_token");
        writer.WriteString("name", token.Name);
        if (key is not null)
        {
            writer.WriteString("key", key);
        }

        writer.WriteString("key_prefix", token.KeyPrefix);
        writer.WriteBoolean("enabled", token.Enabled);
        writer.WriteBoolean("admin", token.IsAdmin);
        WriteNullable(writer, "expires_at", token.ExpiresAt);
        WriteList(writer, "allowed_models", token.AllowedModels);
        WriteList(writer, "allowed_paths", token.AllowedPaths);
        WriteList(writer, "allowed_providers", token.AllowedProviders);
        WriteNullable(writer, "requests_per_minute", token.RequestsPerMinute);
        WriteNullable(writer, "tokens_per_minute", token.TokensPerMinute);
        WriteNullable(writer, "max_concurrent_requests", token.MaxConcurrentRequests);
        writer.WriteString("created_at", token.CreatedAt);
        writer.WriteString("updated_at", token.UpdatedAt);
        writer.WriteEndObject();
    }

    /// <summary>The token as a JSON string, for the audit table.</summary>
    public static string ToAuditString(StoredToken token)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, token);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteList(Utf8JsonWriter writer, string name, string list)
    {
        writer.WriteStartArray(name);
        foreach (var item in TokenRows.Split(list))
        {
            writer.WriteStringValue(item);
        }

        writer.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, int? value)
    {
        if (value is { } number)
        {
            writer.WriteNumber(name, number);
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteNullable(Utf8JsonWriter writer, string name, DateTimeOffset? value)
    {
        if (value is { } instant)
        {
            writer.WriteString(name, instant);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
