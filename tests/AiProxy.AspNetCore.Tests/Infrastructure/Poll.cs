namespace AiProxy.AspNetCore.Tests.Infrastructure;

/// <summary>
/// The one way the tests wait for something that happens on another thread or process (a request reaching the fake
/// upstream, a slot given back, a cooldown shared through Redis): check, wait a little, check again, until a patience
/// that is generous for a busy 2-core machine. Tests about time itself move a fake clock instead.
/// </summary>
internal static class Poll
{
    /// <summary>How long <see cref="UntilAsync(Func{bool}, string, TimeSpan?)"/> waits unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    /// <summary>Waits until <paramref name="condition"/> holds; fails the test, naming <paramref name="what"/>, when it does not in time.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what = "the condition held", TimeSpan? patience = null)
    {
        if (!await EventuallyAsync(() => Task.FromResult(condition()), patience ?? DefaultPatience))
        {
            Assert.Fail($"Timed out after {(patience ?? DefaultPatience).TotalSeconds:0.#} s waiting until {what}.");
        }
    }

    /// <summary>Whether <paramref name="condition"/> came to hold within <paramref name="patience"/> (checked once more at the end).</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(Interval);
        }
    }
}
