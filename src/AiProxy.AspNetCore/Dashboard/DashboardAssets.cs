using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;

namespace AiProxy.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's static files, embedded in this assembly (<c>Dashboard/wwwroot</c>, read through its manifest), served
/// with a strict <c>Content-Security-Policy</c>: scripts, styles and data from the page's own origin only, nothing inline,
/// no frames, no form posts. Nothing is loaded from anywhere else at run time.
/// </summary>
internal sealed class DashboardAssets
{
    /// <summary>The policy of every dashboard response. uPlot sizes its elements through the DOM (<c>element.style</c>),
    /// which a policy without <c>'unsafe-inline'</c> allows; the charts are canvases (<c>img-src data:</c> is not needed).</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".txt"] = "text/plain; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly ManifestEmbeddedFileProvider _files = new(typeof(DashboardAssets).Assembly, "Dashboard/wwwroot");

    /// <summary>Sets the security headers every dashboard response carries (the page, its files and its data).</summary>
    public static void AddSecurityHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
    }

    /// <summary>Writes the embedded file <paramref name="name"/> (a plain file name: no folders), or 404 when there is none.</summary>
    public async Task WriteAsync(HttpContext context, string name)
    {
        var response = context.Response;
        AddSecurityHeaders(response);
        var extension = Path.GetExtension(name);
        if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
            || !ContentTypes.TryGetValue(extension, out var contentType)
            || _files.GetFileInfo(name) is not { Exists: true, IsDirectory: false } file)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = file.Length;
        response.Headers.CacheControl = "no-cache";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var stream = file.CreateReadStream();
        await using (stream.ConfigureAwait(false))
        {
            await stream.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }
}
