using AiProxy.Providers;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class ModelPatternTests
{
    [TestCase("gpt-4o*", "gpt-4o", true)]
    [TestCase("gpt-4o*", "gpt-4o-mini", true)]
    [TestCase("gpt-4o*", "gpt-4", false)]
    [TestCase("gpt-4o*", "chatgpt-4o", false)]
    [TestCase("*mini", "gpt-4o-mini", true)]
    [TestCase("*mini", "mini", true)]
    [TestCase("*mini", "gpt-4o-mini-2024", false)]
    [TestCase("gpt-?", "gpt-4", true)]
    [TestCase("gpt-?", "gpt-", false)]
    [TestCase("gpt-?", "gpt-40", false)]
    [TestCase("??", "ab", true)]
    [TestCase("??", "abc", false)]
    [TestCase("*-*-mini", "gpt-4o-mini", true)]
    [TestCase("a*b*c", "aXXbYYc", true)]
    [TestCase("a*b*c", "aXXbYY", false)]
    [TestCase("a*a*a", "aaaa", true)]
    [TestCase("*", "anything", true)]
    [TestCase("*", "", true)]
    [TestCase("**", "x", true)]
    [TestCase("", "", true)]
    [TestCase("", "x", false)]
    [TestCase("GPT-4O*", "gpt-4o-mini", true)]
    [TestCase("gpt-4o*", "GPT-4O-MINI", true)]
    [TestCase("exact", "exact", true)]
    [TestCase("exact", "exactly", false)]
    [TestCase("exact", "exac", false)]
    [TestCase("llama3.1:*", "llama3.1:8b", true)]
    [TestCase("llama3.1:8b", "llama3.1:8b", true)]
    public void Matches_globs_case_insensitively(string pattern, string model, bool expected)
        => Assert.That(ModelPattern.Matches(pattern, model), Is.EqualTo(expected));

    [Test]
    public void MatchesAny_is_true_when_one_entry_matches()
    {
        string[] patterns = ["claude-*", "gpt-4o*"];

        Assert.That(ModelPattern.MatchesAny(patterns, "gpt-4o-mini"), Is.True);
        Assert.That(ModelPattern.MatchesAny(patterns, "llama-3"), Is.False);
    }

    [Test]
    public void MatchesAny_of_an_empty_list_matches_nothing()
        => Assert.That(ModelPattern.MatchesAny([], "gpt-4o"), Is.False);

    [TestCase("gpt-4o*", true)]
    [TestCase("gpt-?", true)]
    [TestCase("llama3.1:8b", false)]
    public void IsGlob_recognises_wildcards(string pattern, bool expected)
        => Assert.That(ModelPattern.IsGlob(pattern), Is.EqualTo(expected));
}
