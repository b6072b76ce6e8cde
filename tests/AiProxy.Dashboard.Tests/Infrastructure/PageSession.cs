using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace AiProxy.Dashboard.Tests.Infrastructure;

/// <summary>
/// One browser context and page on the dashboard, recording what a reviewer of the page would look for: console errors
/// and page errors, failed requests (network failures and 4xx/5xx answers), every request with its headers, and every
/// response body, so a test can assert on them. Screenshots go to the test's results (attached to the test).
/// </summary>
internal sealed class PageSession : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly ConcurrentQueue<Task> _pending = new();

    private PageSession(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                ConsoleErrors.Enqueue(message.Text);
            }
        };
        page.PageError += (_, error) => ConsoleErrors.Enqueue("page error: " + error);
        page.RequestFailed += (_, request) => FailedRequests.Enqueue($"{request.Method} {request.Url}: {request.Failure}");
        page.Request += (_, request) => _pending.Enqueue(RecordRequestAsync(request));
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                FailedRequests.Enqueue($"{response.Request.Method} {response.Url}: {response.Status}");
            }

            _pending.Enqueue(RecordBodyAsync(response));
        };
    }

    public IPage Page { get; }

    public ConcurrentQueue<string> ConsoleErrors { get; } = new();

    public ConcurrentQueue<string> FailedRequests { get; } = new();

    /// <summary>Every request the page made: its URL and its headers.</summary>
    public ConcurrentQueue<(string Url, IReadOnlyDictionary<string, string> Headers)> Requests { get; } = new();

    /// <summary>Every response the page received: its URL and its body as text.</summary>
    public ConcurrentQueue<(string Url, string Body)> Responses { get; } = new();

    public static async Task<PageSession> OpenAsync(IBrowser browser, int width = 1280, int height = 900, ColorScheme scheme = ColorScheme.Light)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = scheme,
        });
        var page = await context.NewPageAsync();
        return new PageSession(context, page);
    }

    /// <summary>Waits for the bodies of the responses seen so far to be read.</summary>
    public async Task SettleAsync()
    {
        while (_pending.TryDequeue(out var task))
        {
            await task;
        }
    }

    /// <summary>Signs in through the form: types the token and presses Enter.</summary>
    public async Task SignInAsync(string token)
    {
        await Page.GetByLabel("Admin token").FillAsync(token);
        await Page.GetByLabel("Admin token").PressAsync("Enter");
    }

    /// <summary>Saves a full-page PNG in the test's results and attaches it to the test; returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.AddTestAttachment(path, name);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        await _context.DisposeAsync();
    }

    private async Task RecordRequestAsync(IRequest request)
    {
        var headers = await request.AllHeadersAsync();
        Requests.Enqueue((request.Url, headers));
    }

    private async Task RecordBodyAsync(IResponse response)
    {
        try
        {
            Responses.Enqueue((response.Url, await response.TextAsync()));
        }
        catch (PlaywrightException)
        {
            // A redirect has no body to read.
            Responses.Enqueue((response.Url, string.Empty));
        }
    }
}
