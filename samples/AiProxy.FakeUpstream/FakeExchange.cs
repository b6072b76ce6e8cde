using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AiProxy.FakeUpstream;

/// <summary>One request in flight: what the endpoints need to read it and to answer like the real API.</summary>
internal sealed class FakeExchange(
    HttpContext http,
    RecordedRequest request,
    FakeUpstreamBehavior behavior,
    string name,
    CancellationToken aborted,
    long startTimestamp)
{
    public HttpContext Http { get; } = http;

    public RecordedRequest Request { get; } = request;

    public FakeUpstreamBehavior Behavior { get; } = behavior;

    /// <summary>The fake's name, shown as <c>owned_by</c> and <c>provider</c>.</summary>
    public string Name { get; } = name;

    /// <summary>Fires when the client aborts the request or the fake is shutting down.</summary>
    public CancellationToken Aborted { get; } = aborted;

    public static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>
    /// Breaks the response off where it stands. <c>HttpContext.Abort()</c> would drop whatever Kestrel has not yet
    /// put on the wire, so the client could miss events already "sent"; an exception after the response started
    /// makes Kestrel close the connection after the bytes written so far, without the final chunk. Either way the
    /// client's read fails with an <see cref="IOException"/>, but only this way after exactly the events sent.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void ResetConnection() => throw new FakeConnectionResetException();

    public async Task WriteJsonAsync(int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        HttpResponse response = Http.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        ApplyApiHeaders();
        await response.Body.WriteAsync(buffer.WrittenMemory, Aborted);
    }

    /// <summary>Writes <c>{"error":{"message","type","param","code"}}</c>, the shape every OpenAI error has.</summary>
    public Task WriteErrorAsync(int status, string message, string type, string? code, string? param = null) =>
        WriteJsonAsync(status, json =>
        {
            json.WriteStartObject();
            json.WriteStartObject("error");
            json.WriteString("message", message);
            json.WriteString("type", type);
            json.WriteString("param", param);
            json.WriteString("code", code);
            json.WriteEndObject();
            json.WriteEndObject();
        });

    /// <summary>Writes Anthropic's <c>{"type":"error","error":{"type","message"},"request_id"}</c>.</summary>
    public Task WriteAnthropicErrorAsync(int status, string message, string type) =>
        WriteJsonAsync(status, json =>
        {
            json.WriteStartObject();
            json.WriteString("type", "error");
            json.WriteStartObject("error");
            json.WriteString("type", type);
            json.WriteString("message", message);
            json.WriteEndObject();
            json.WriteString("request_id", "req_fake");
            json.WriteEndObject();
        });

    public Task WriteInvalidRequestAsync(string message, string? param = null) =>
        WriteErrorAsync(StatusCodes.Status400BadRequest, message, "invalid_request_error", null, param);

    public Task WriteFailureAsync(int status)
    {
        if (Behavior.RetryAfter is TimeSpan retryAfter)
        {
            long seconds = (long)Math.Ceiling(Math.Max(0, retryAfter.TotalSeconds));
            Http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            Http.Response.Headers["retry-after-ms"] =
                ((long)Math.Ceiling(Math.Max(0, retryAfter.TotalMilliseconds))).ToString(CultureInfo.InvariantCulture);
        }

        if (Request.Path == "/v1/messages")
        {
            return WriteAnthropicErrorAsync(status, Behavior.FailMessage, MessagesEndpoint.ErrorType(status));
        }

        string type = status is >= 400 and < 500 ? "invalid_request_error" : "server_error";
        return WriteErrorAsync(status, Behavior.FailMessage, type, "fake_" + status.ToString(CultureInfo.InvariantCulture));
    }

    public Task<SseWriter> StartStreamAsync() => SseWriter.StartAsync(this);

    /// <summary>Headers the real API puts on every answer, so header pass-through can be tested.</summary>
    public void ApplyApiHeaders()
    {
        IHeaderDictionary headers = Http.Response.Headers;
        headers["x-request-id"] = "req_" + Guid.NewGuid().ToString("N");
        headers["openai-processing-ms"] =
            ((long)Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        headers["openai-version"] = "2020-10-01";
        headers["x-ratelimit-limit-requests"] = "10000";
        headers["x-ratelimit-remaining-requests"] = "9999";
        headers["x-ratelimit-reset-requests"] = "6ms";
        headers["x-ratelimit-limit-tokens"] = "10000000";
        headers["x-ratelimit-remaining-tokens"] = "9999000";
        headers["x-ratelimit-reset-tokens"] = "0s";
        foreach (KeyValuePair<string, string> extra in Behavior.ResponseHeaders)
        {
            headers[extra.Key] = extra.Value;
        }
    }
}
