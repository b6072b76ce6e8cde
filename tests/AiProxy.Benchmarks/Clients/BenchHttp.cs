using System.Net.Http.Headers;
using System.Text;

namespace AiProxy.Benchmarks.Clients;

/// <summary>The HTTP client and request bodies the benchmark's own clients use.</summary>
internal static class BenchHttp
{
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// A streaming chat request that asks for usage itself, so every target relays the same events: a proxy that
    /// adds and hides the usage chunk would otherwise show one gap of two chunk delays that is not relay latency.
    /// </summary>
    public static HttpRequestMessage StreamingChat(Uri url, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(
                """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Tell me a story about a proxy that never dropped a token."}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }
}
