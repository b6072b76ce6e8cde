using Microsoft.Playwright;

namespace AiProxy.Dashboard.Tests.Infrastructure;

/// <summary>
/// Launches the machine's own chromium (Debian's <c>chromium</c> package) through Playwright's <c>ExecutablePath</c>:
/// Playwright's browser download cannot be reached from these machines. Where chromium is missing the tests are skipped
/// with a message saying so, except under CI (<c>CI=true</c>), where <c>.ci/run</c> installs it and its absence fails.
/// </summary>
internal static class SystemChromium
{
    private static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"];

    /// <summary>The chromium to drive: <c>AIPROXY_CHROMIUM</c> when set, else the first of the usual Debian paths that exists.</summary>
    public static string? Find()
        => Environment.GetEnvironmentVariable("AIPROXY_CHROMIUM") is { Length: > 0 } configured
            ? configured
            : Candidates.FirstOrDefault(File.Exists);

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        var path = Find();
        if (path is null || !File.Exists(path))
        {
            const string Missing = "chromium is not installed (apt-get install -y chromium, or set AIPROXY_CHROMIUM): the dashboard's browser tests cannot run.";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail(Missing + " .ci/run installs it; CI must not skip these tests.");
            }

            Assert.Ignore(Missing);
        }

        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = path,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }
}
