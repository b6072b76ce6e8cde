using System.Text;
using System.Text.Json.Nodes;
using AiProxy.Requests;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class SplicedContentTests
{
    private const string ChatBody = """
        {
          "messages": [{"role": "system", "content": "You are \"helpful\"."}, {"role": "user", "content": "model: gpt-4?", "model": "inner"}],
          "model" : "gpt-4",
          "stream": true,
          "stream_options": {"include_usage": true},
          "temperature": 0.2
        }
        """;

    private static SplicedContent Splice(byte[] body, string newModel, string? contentType = "application/json")
    {
        Assert.That(RequestInspector.TryInspect(body, out var inspection, out var error), Is.True, error);
        return new SplicedContent(body, inspection.ModelTokenStart, inspection.ModelTokenLength, JsonTokenEncoding.EncodeString(newModel), contentType);
    }

    private static void AssertOnlyModelChanged(byte[] original, byte[] spliced, string newModel)
    {
        var expected = JsonNode.Parse(original)!;
        expected["model"] = newModel;
        var actual = JsonNode.Parse(spliced)!;
        Assert.That(JsonNode.DeepEquals(actual, expected), Is.True, Encoding.UTF8.GetString(spliced));
    }

    [TestCase("claude-3-opus")]
    [TestCase("llama3.1:8b")]
    [TestCase("a much longer model name than the original one, to grow the body")]
    [TestCase("x")]
    [TestCase("quote\"and\\backslash")]
    [TestCase("модель-日本")]
    public void The_spliced_body_equals_the_original_with_only_the_model_changed(string newModel)
    {
        var body = Encoding.UTF8.GetBytes(ChatBody);

        var spliced = Splice(body, newModel).ToArray();

        AssertOnlyModelChanged(body, spliced, newModel);
    }

    [Test]
    public async Task The_async_serialization_gives_the_same_bytes()
    {
        var body = Encoding.UTF8.GetBytes(ChatBody);
        using var content = Splice(body, "claude-3-opus");

        var viaAsync = await content.ReadAsByteArrayAsync();

        Assert.That(viaAsync, Is.EqualTo(Splice(body, "claude-3-opus").ToArray()));
        AssertOnlyModelChanged(body, viaAsync, "claude-3-opus");
    }

    [Test]
    public async Task The_whole_escaped_model_token_is_replaced()
    {
        var body = """{"model":"gpt\u002d4","n":1}"""u8.ToArray();
        using var content = Splice(body, "claude-3-opus");

        var text = Encoding.UTF8.GetString(await content.ReadAsByteArrayAsync());

        Assert.That(text, Is.EqualTo("""{"model":"claude-3-opus","n":1}"""));
    }

    [Test]
    public void A_model_first_or_last_in_the_object_is_spliced()
    {
        var first = """{"model":"a","x":[1]}"""u8.ToArray();
        var last = """{"x":[1],"model":"a"}"""u8.ToArray();

        Assert.That(Encoding.UTF8.GetString(Splice(first, "bb").ToArray()), Is.EqualTo("""{"model":"bb","x":[1]}"""));
        Assert.That(Encoding.UTF8.GetString(Splice(last, "bb").ToArray()), Is.EqualTo("""{"x":[1],"model":"bb"}"""));
    }

    [TestCase("claude-3-opus")]
    [TestCase("x")]
    [TestCase("модель")]
    public async Task Content_length_is_the_length_of_the_spliced_body(string newModel)
    {
        var body = Encoding.UTF8.GetBytes(ChatBody);
        using var content = Splice(body, newModel);

        var bytes = await content.ReadAsByteArrayAsync();

        Assert.That(content.Headers.ContentLength, Is.EqualTo(bytes.Length));
        Assert.That(bytes.Length, Is.EqualTo(body.Length - "\"gpt-4\"".Length + JsonTokenEncoding.EncodeString(newModel).Length));
    }

    [Test]
    public async Task A_negative_start_sends_the_body_unchanged()
    {
        var body = Encoding.UTF8.GetBytes(ChatBody);
        using var content = new SplicedContent(body, -1, 0, default, "application/json");

        Assert.That(content.Headers.ContentLength, Is.EqualTo(body.Length));
        Assert.That(content.ToArray(), Is.EqualTo(body));
        Assert.That(await content.ReadAsByteArrayAsync(), Is.EqualTo(body));
    }

    [Test]
    public async Task A_body_that_is_a_slice_of_a_larger_buffer_is_spliced_within_the_slice()
    {
        // The request path reads into a pooled buffer larger than the body.
        var json = Encoding.UTF8.GetBytes("""{"model":"gpt-4","n":1}""");
        var pooled = new byte[json.Length + 64];
        pooled.AsSpan().Fill((byte)'#');
        json.CopyTo(pooled, 16);
        var body = pooled.AsMemory(16, json.Length);
        RequestInspector.TryInspect(body.Span, out var inspection, out _);
        using var content = new SplicedContent(body, inspection.ModelTokenStart, inspection.ModelTokenLength, JsonTokenEncoding.EncodeString("m2"), null);

        var text = Encoding.UTF8.GetString(await content.ReadAsByteArrayAsync());

        Assert.That(text, Is.EqualTo("""{"model":"m2","n":1}"""));
        Assert.That(content.Headers.ContentLength, Is.EqualTo(text.Length));
    }

    [Test]
    public void The_content_type_is_sent_when_given()
    {
        using var content = new SplicedContent("{}"u8.ToArray(), -1, 0, default, "application/json; charset=utf-8");

        Assert.That(content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        Assert.That(content.Headers.ContentType?.CharSet, Is.EqualTo("utf-8"));
    }

    [Test]
    public void No_content_type_is_invented()
    {
        using var content = new SplicedContent("{}"u8.ToArray(), -1, 0, default, null);

        Assert.That(content.Headers.ContentType, Is.Null);
    }
}
