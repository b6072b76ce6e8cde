using System.ComponentModel;
using System.Security.Claims;
using Microsoft.Extensions.Primitives;

namespace AiProxy.Hosting;

/// <summary>
/// A client's request as the gateway reads it: method, headers, the user the host authenticated, and its body. A host
/// package implements it over its web framework's request (AiProxy.AspNetCore over <c>HttpRequest</c>); Core reads the
/// body once, into pooled memory bounded by <c>MaxRequestBodyBytes</c> and <c>MaxBufferedRequestBytes</c>.
/// </summary>
/// <remarks>The gateway takes the client as one generic argument that implements this and <see cref="IProxyResponseSink"/>:
/// implement both on a small struct over the framework's context, so that a request allocates nothing for it.</remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public interface IProxyClientRequest
{
    /// <summary>The HTTP method (<c>GET</c>, <c>POST</c>, ...).</summary>
    string Method { get; }

    /// <summary>The request's path after the host's base path, as errors name it (<c>/proxy/v1/chat/completions</c>).</summary>
    string Path { get; }

    /// <summary>The query string with its leading <c>?</c>, or empty; forwarded as it is.</summary>
    string QueryString { get; }

    /// <summary>The <c>Content-Type</c> header, or <see langword="null"/>.</summary>
    string? ContentType { get; }

    /// <summary>The <c>Content-Length</c> header, or <see langword="null"/> (chunked, or no body).</summary>
    long? ContentLength { get; }

    /// <summary>Fires when the client leaves (or its connection drops): it cancels the upstream call, so the spend stops.</summary>
    CancellationToken Aborted { get; }

    /// <summary>The user the host app authenticated, if any: with <c>RequireToken</c> off, a request without a proxy token is this user.</summary>
    ClaimsPrincipal? User { get; }

    /// <summary>Reads a request header.</summary>
    /// <param name="name">The header's name (case-insensitive).</param>
    /// <param name="value">Its values.</param>
    /// <returns><see langword="true"/> when the request has the header.</returns>
    bool TryGetHeader(string name, out StringValues value);

    /// <summary>Lets the server enforce <paramref name="maxBytes"/> on the body as it arrives (chunked bodies too), where it can.</summary>
    /// <param name="maxBytes">The largest body accepted.</param>
    void LimitBodySize(long maxBytes);

    /// <summary>Reads the next bytes of the body; 0 at its end.</summary>
    /// <param name="buffer">Where the bytes go.</param>
    /// <param name="cancellationToken">Fires when the client leaves.</param>
    /// <returns>The number of bytes read.</returns>
    ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>The status the server gives a body it refused while it was read (413 for one over its limit, 400 for a data
    /// rate too low or a malformed chunk), or <see langword="null"/> when <paramref name="exception"/> means the client went away.</summary>
    /// <param name="exception">What <see cref="ReadBodyAsync"/> threw (an <see cref="IOException"/> or <see cref="OperationCanceledException"/>).</param>
    /// <returns>The status, or <see langword="null"/>.</returns>
    int? GetBodyReadFailureStatus(Exception exception);

    /// <summary>Reads the field <paramref name="name"/> of a <c>multipart/form-data</c> body held in memory, so that a token's
    /// model scope applies to uploads too.</summary>
    /// <param name="body">The whole body.</param>
    /// <param name="boundary">The form's boundary, from its <c>Content-Type</c>.</param>
    /// <param name="name">The field's name.</param>
    /// <param name="maxBytes">The longest value accepted.</param>
    /// <param name="cancellationToken">Fires when the client leaves.</param>
    /// <returns>The field's value; <see langword="null"/> when the form has no such field or is not a well-formed form.</returns>
    /// <exception cref="FormatException">The form has the field twice, or its value is longer than <paramref name="maxBytes"/> or
    /// not UTF-8: the message is the client's error.</exception>
    ValueTask<string?> ReadFormFieldAsync(ReadOnlyMemory<byte> body, string boundary, string name, int maxBytes, CancellationToken cancellationToken);
}
