namespace AiProxy.AspNetCore.Tests.Infrastructure;

internal static class KeyLeakAssert
{
    /// <summary>Asserts that no captured log line holds any of <paramref name="keys"/>, the test token's or an upstream's key.</summary>
    public static void NoKeyIn(LogCollector logs, params string[] keys)
    {
        var text = logs.AllText;
        Assert.That(text, Is.Not.Empty, "the run logged something to check");
        foreach (var key in keys.Append(ProxyHost.Token).Append("sk-upstream-"))
        {
            Assert.That(text, Does.Not.Contain(key), "a key was logged");
        }
    }
}
