using System.Text;

namespace AiProxy.FakeUpstream;

/// <summary>One request as the fake upstream received it, recorded before any delay or failure switch applies.</summary>
public sealed class RecordedRequest
{
    private string? _bodyText;

    internal RecordedRequest(
        string method,
        string path,
        string? queryString,
        IReadOnlyDictionary<string, string> headers,
        byte[] body,
        string protocol,
        DateTimeOffset receivedAt)
    {
        Method = method;
        Path = path;
        QueryString = queryString;
        Headers = headers;
        Body = body;
        Protocol = protocol;
        ReceivedAt = receivedAt;
    }

    /// <summary>The HTTP method, for example <c>POST</c>.</summary>
    public string Method { get; }

    /// <summary>The full request path including the <c>/v1</c> prefix, for example <c>/v1/chat/completions</c>.</summary>
    public string Path { get; }

    /// <summary>The query string including its leading <c>?</c>, or <see langword="null"/> when the request had none.</summary>
    public string? QueryString { get; }

    /// <summary>Request headers by case-insensitive name; repeated headers are joined with <c>", "</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The complete request body (empty when there was none).</summary>
    public byte[] Body { get; }

    /// <summary>The request body decoded as UTF-8.</summary>
    public string BodyText => _bodyText ??= Encoding.UTF8.GetString(Body);

    /// <summary>The HTTP version the request arrived with, as ASP.NET Core names it: <c>HTTP/1.1</c>, <c>HTTP/2</c>.</summary>
    public string Protocol { get; }

    /// <summary>When the fake finished reading the request body.</summary>
    public DateTimeOffset ReceivedAt { get; }
}
