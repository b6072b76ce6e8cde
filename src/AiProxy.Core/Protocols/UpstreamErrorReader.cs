using System.Text;
using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Providers;

namespace AiProxy.Protocols;

/// <summary>
/// Turns a failed upstream response into the proxy's error: the upstream's status, message and code when it
/// sent OpenAI-shaped JSON, with anything that could carry the provider's credentials removed.
/// </summary>
internal static class UpstreamErrorReader
{
    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <param name="response">The failed response.</param>
    /// <param name="provider">Its provider (named in messages; its key is scrubbed from them).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <param name="typeAsCode">An error with no <c>code</c> takes its <c>type</c> as the code (Anthropic's errors name only a type).</param>
    public static async ValueTask<ProxyError> ReadAsync(HttpResponseMessage response, ProviderClient provider, CancellationToken cancellationToken, bool typeAsCode = false)
    {
        var status = (int)response.StatusCode;
        string? message = null, code = null;
        try
        {
            var body = await ReadBoundedAsync(response, cancellationToken).ConfigureAwait(false);
            (message, code) = Parse(body, typeAsCode);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            // The status alone still tells what happened.
        }

        if (status is 401 or 403)
        {
            // Upstream auth messages quote (masked) keys: never relay them.
            message = $"Provider '{provider.Name}' rejected the gateway's credentials ({status}).";
        }

        message = string.IsNullOrWhiteSpace(message)
            ? $"Provider '{provider.Name}' answered {status}."
            : Scrub(message, provider);
        code ??= status switch
        {
            429 => "rate_limit_exceeded",
            _ => "upstream_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        var type = status == 429 ? "rate_limit_exceeded" : ProxyError.UpstreamErrorType;
        return new ProxyError(status, type, code, message)
        {
            RetryAfterSeconds = status is 429 or 503 ? RetryAfterSeconds(response) ?? (status == 429 ? 1 : null) : null,
        };
    }

    /// <summary>The error for a stream whose first event was an error event (<paramref name="payload"/> is its JSON).</summary>
    public static ProxyError FromStreamError(string? payload, ProviderClient provider)
    {
        var (message, code) = payload is null ? (null, null) : Parse(Encoding.UTF8.GetBytes(payload), typeAsCode: false);
        message = string.IsNullOrWhiteSpace(message)
            ? $"Provider '{provider.Name}' failed the stream before it started."
            : Scrub(message, provider);
        return new ProxyError(502, ProxyError.UpstreamErrorType, code ?? "upstream_stream_error", message);
    }

    private static async ValueTask<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxErrorBodyBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
        }

        return buffer[..total];
    }

    private static (string? Message, string? Code) Parse(byte[] body, bool typeAsCode)
    {
        if (body.Length == 0)
        {
            return (null, null);
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return (error.GetString(), null);
                }

                if (error.ValueKind == JsonValueKind.Object)
                {
                    var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    var code = error.TryGetProperty("code", out var c) ? c.ValueKind switch
                    {
                        JsonValueKind.String => c.GetString(),
                        JsonValueKind.Number => c.GetRawText(),
                        _ => null,
                    } : null;
                    if (code is null && typeAsCode && error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
                    {
                        code = t.GetString();
                    }

                    return (message, code);
                }
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var plain) && plain.ValueKind == JsonValueKind.String)
            {
                return (plain.GetString(), null);
            }
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8: the status alone tells what happened.
            return (null, null);
        }
        catch (JsonException)
        {
            // Not JSON: a short plain-text body is still a useful message.
            var text = Encoding.UTF8.GetString(body).Trim();
            return (text.Length is > 0 and <= 500 && !text.StartsWith('<') ? text : null, null);
        }

        return (null, null);
    }

    private static string Scrub(string message, ProviderClient provider)
    {
        var key = provider.Options.ApiKey;
        return string.IsNullOrEmpty(key) ? message : message.Replace(key, "[redacted]", StringComparison.Ordinal);
    }

    private static int? RetryAfterSeconds(HttpResponseMessage response)
    {
        var retryAfter = response.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
        {
            return (int)Math.Clamp(Math.Ceiling(delta.TotalSeconds), 1, 3600);
        }

        if (retryAfter?.Date is { } date)
        {
            return (int)Math.Clamp(Math.Ceiling((date - DateTimeOffset.UtcNow).TotalSeconds), 1, 3600);
        }

        return null;
    }
}
