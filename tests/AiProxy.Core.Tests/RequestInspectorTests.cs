using System.Text;
using AiProxy.Requests;
using NUnit.Framework;

namespace AiProxy.Tests;

public sealed class RequestInspectorTests
{
    private static RequestInspection Inspect(string json)
    {
        var ok = RequestInspector.TryInspect(Encoding.UTF8.GetBytes(json), out var inspection, out var error);
        Assert.That(ok, Is.True, error);
        Assert.That(error, Is.Null);
        return inspection;
    }

    private static string ModelToken(string json, RequestInspection inspection)
        => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(json), inspection.ModelTokenStart, inspection.ModelTokenLength);

    [Test]
    public void The_top_level_model_is_found_and_its_token_located()
    {
        const string Json = """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("gpt-4o"));
        Assert.That(inspection.ModelTokenStart, Is.EqualTo(9));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"gpt-4o\""));
    }

    [Test]
    public void A_model_key_inside_messages_or_nested_objects_is_ignored()
    {
        const string Json = """
            {"messages":[{"role":"user","content":"hi","model":"nested-in-array"}],
             "metadata":{"model":"nested-in-object","deeper":{"model":"x"}},
             "tools":[[{"model":"y"}]],
             "model":"real"}
            """;

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("real"));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"real\""));
    }

    [Test]
    public void A_body_with_only_nested_model_keys_has_no_model()
    {
        var inspection = Inspect("""{"messages":[{"model":"x"}],"metadata":{"model":"y"}}""");

        Assert.That(inspection.Model, Is.Null);
        Assert.That(inspection.ModelTokenStart, Is.EqualTo(-1));
    }

    [Test]
    public void A_model_key_inside_a_string_value_is_ignored()
    {
        const string Json = """{"prompt":"{\"model\":\"evil\"}","messages":[{"content":"\"model\": \"evil\""}],"model":"gpt-4"}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("gpt-4"));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"gpt-4\""));
    }

    [Test]
    public void A_string_value_equal_to_model_is_not_a_property()
    {
        var inspection = Inspect("""{"input":"model","encoding_format":"float"}""");

        Assert.That(inspection.Model, Is.Null);
    }

    [Test]
    public void An_escaped_model_is_decoded_and_its_whole_escaped_token_located()
    {
        const string Json = """{"model":"gpt\u002d4","n":1}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("gpt-4"));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"gpt\\u002d4\""));
    }

    [Test]
    public void An_escaped_property_name_still_counts_as_model()
    {
        const string Json = """{"mo\u0064el":"gpt-4"}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("gpt-4"));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"gpt-4\""));
    }

    [Test]
    public void White_space_and_newlines_around_the_colon_are_allowed()
    {
        const string Json = "{\r\n  \"model\" \t:\r\n  \"gpt-4\" ,\n  \"stream\"\n:\ntrue\n}\n";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("gpt-4"));
        Assert.That(inspection.Stream, Is.True);
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"gpt-4\""));
    }

    [Test]
    public void A_unicode_model_name_is_decoded_and_located_by_bytes()
    {
        const string Json = """{"messages":[],"model":"модель-日本-🚀"}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("модель-日本-🚀"));
        Assert.That(inspection.ModelTokenLength, Is.EqualTo(Encoding.UTF8.GetByteCount("модель-日本-🚀") + 2));
        Assert.That(ModelToken(Json, inspection), Is.EqualTo("\"модель-日本-🚀\""));
    }

    [Test]
    public void A_model_first_in_the_object_is_found()
    {
        var inspection = Inspect("""{"model":"a","messages":[],"temperature":0.5}""");

        Assert.That(inspection.Model, Is.EqualTo("a"));
        Assert.That(inspection.ModelTokenStart, Is.EqualTo(9));
    }

    [Test]
    public void A_model_last_in_the_object_is_found()
    {
        const string Json = """{"messages":[{"role":"user","content":"x"}],"temperature":0.5,"model":"b"}""";

        var inspection = Inspect(Json);

        Assert.That(inspection.Model, Is.EqualTo("b"));
        Assert.That(inspection.ModelTokenStart + inspection.ModelTokenLength, Is.EqualTo(Json.Length - 1));
    }

    [Test]
    public void A_null_model_counts_as_absent()
    {
        var inspection = Inspect("""{"model":null}""");

        Assert.That(inspection.Model, Is.Null);
        Assert.That(inspection.ModelTokenStart, Is.EqualTo(-1));
    }

    [Test]
    public void An_empty_object_has_nothing()
    {
        var inspection = Inspect("{}");

        Assert.That(inspection.Model, Is.Null);
        Assert.That(inspection.Stream, Is.False);
        Assert.That(inspection.HasStreamOptions, Is.False);
        Assert.That(inspection.MaxTokens, Is.Null);
        Assert.That(inspection.N, Is.Null);
    }

    [TestCase("""{"model":"m","stream":true}""", true)]
    [TestCase("""{"model":"m","stream":false}""", false)]
    [TestCase("""{"model":"m"}""", false)]
    [TestCase("""{"model":"m","stream":null}""", false)]
    [TestCase("""{"model":"m","stream":"true"}""", false)]
    [TestCase("""{"stream":true,"model":"m"}""", true)]
    [TestCase("""{"model":"m","messages":[{"stream":true}]}""", false)]
    public void Stream_is_true_only_for_a_top_level_true(string json, bool expected)
        => Assert.That(Inspect(json).Stream, Is.EqualTo(expected));

    [TestCase("""{"stream":true,"stream_options":{"include_usage":true}}""", true, true)]
    [TestCase("""{"stream":true,"stream_options":{"include_usage":false}}""", true, false)]
    [TestCase("""{"stream":true,"stream_options":{}}""", true, false)]
    [TestCase("""{"stream":true}""", false, false)]
    [TestCase("""{"stream_options":null}""", false, false)]
    [TestCase("""{"stream_options":{"x":{"include_usage":true},"include_usage":false}}""", true, false)]
    [TestCase("""{"stream_options":{"x":[{"include_usage":false}],"include_usage":true,"y":{"z":1}},"model":"m"}""", true, true)]
    [TestCase("""{"metadata":{"stream_options":{"include_usage":true}}}""", false, false)]
    public void Stream_options_include_usage_is_read_at_its_own_level(string json, bool hasStreamOptions, bool includeUsage)
    {
        var inspection = Inspect(json);

        Assert.That(inspection.HasStreamOptions, Is.EqualTo(hasStreamOptions));
        Assert.That(inspection.IncludeUsage, Is.EqualTo(includeUsage));
    }

    [Test]
    public void Fields_after_stream_options_are_still_read()
    {
        var inspection = Inspect("""{"stream_options":{"include_usage":true,"extra":{"a":[1,2]}},"model":"m","n":2}""");

        Assert.That(inspection.Model, Is.EqualTo("m"));
        Assert.That(inspection.N, Is.EqualTo(2));
    }

    [Test]
    public void Max_tokens_max_completion_tokens_and_n_are_read()
    {
        var inspection = Inspect("""{"model":"m","max_tokens":256,"max_completion_tokens":1024,"n":3}""");

        Assert.That(inspection.MaxTokens, Is.EqualTo(256));
        Assert.That(inspection.MaxCompletionTokens, Is.EqualTo(1024));
        Assert.That(inspection.N, Is.EqualTo(3));
    }

    [Test]
    public void Numbers_that_are_not_whole_or_not_numbers_are_left_unset()
    {
        var inspection = Inspect("""{"model":"m","max_tokens":"256","max_completion_tokens":1.5,"n":{"v":1}}""");

        Assert.That(inspection.MaxTokens, Is.Null);
        Assert.That(inspection.MaxCompletionTokens, Is.Null);
        Assert.That(inspection.N, Is.Null);
        Assert.That(inspection.Model, Is.EqualTo("m"));
    }

    [TestCase("4096.0")]
    [TestCase("4.096e3")]
    [TestCase("4096")]
    public void A_whole_max_tokens_written_with_a_fraction_or_exponent_is_read(string number)
    {
        var inspection = Inspect($$"""{"model":"m","max_tokens":{{number}},"max_completion_tokens":{{number}}}""");

        Assert.That(inspection.MaxTokens, Is.EqualTo(4096));
        Assert.That(inspection.MaxCompletionTokens, Is.EqualTo(4096));
    }

    [Test]
    public void Max_output_tokens_of_the_responses_api_is_read()
        => Assert.That(Inspect("""{"model":"m","input":"hi","max_output_tokens":500.0}""").MaxOutputTokens, Is.EqualTo(500));

    [Test]
    public void A_model_name_longer_than_256_bytes_is_refused_escaped_or_not()
    {
        foreach (var model in new[] { new string('m', 257), new string('\u00e9', 129), string.Concat(Enumerable.Repeat("\\u0065", 257)) })
        {
            var body = System.Text.Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","messages":[]}""");

            Assert.That(RequestInspector.TryInspect(body, out _, out var error), Is.False, model);
            Assert.That(error, Does.Contain("256"));
        }

        Assert.That(Inspect($$"""{"model":"{{new string('m', 256)}}"}""").Model, Has.Length.EqualTo(256));
        Assert.That(Inspect($$"""{"model":"{{string.Concat(Enumerable.Repeat("\\u0065", 256))}}"}""").Model, Is.EqualTo(new string('e', 256)));
    }

    [Test]
    public void Nested_max_tokens_are_ignored()
    {
        var inspection = Inspect("""{"model":"m","metadata":{"max_tokens":5,"n":2}}""");

        Assert.That(inspection.MaxTokens, Is.Null);
        Assert.That(inspection.N, Is.Null);
    }

    [Test]
    public void Trailing_white_space_after_the_object_is_allowed()
        => Assert.That(Inspect("{\"model\":\"m\"}\r\n \t").Model, Is.EqualTo("m"));

    [TestCase("", TestName = "Malformed body: empty")]
    [TestCase("   ", TestName = "Malformed body: only white space")]
    [TestCase("{", TestName = "Malformed body: open brace")]
    [TestCase("""{"model":"gpt-4" """, TestName = "Malformed body: truncated after the model")]
    [TestCase("""{"model":"gpt""", TestName = "Malformed body: truncated inside the model")]
    [TestCase("""{"model":"m","stream":tr""", TestName = "Malformed body: truncated literal")]
    [TestCase("""{"model":"m","messages":[{"content":"x"}""", TestName = "Malformed body: truncated array")]
    [TestCase("""{"model":"m"} garbage""", TestName = "Malformed body: trailing garbage")]
    [TestCase("""{"model":"m"}{}""", TestName = "Malformed body: two objects")]
    [TestCase("""{"model":"m",}""", TestName = "Malformed body: trailing comma")]
    [TestCase("""{/* c */"model":"m"}""", TestName = "Malformed body: comment")]
    [TestCase("""{'model':'m'}""", TestName = "Malformed body: single quotes")]
    [TestCase("""[{"model":"m"}]""", TestName = "Malformed body: top-level array")]
    [TestCase("\"model\"", TestName = "Malformed body: top-level string")]
    [TestCase("null", TestName = "Malformed body: top-level null")]
    [TestCase("""{"model":4}""", TestName = "Malformed body: model is a number")]
    [TestCase("""{"model":true}""", TestName = "Malformed body: model is a boolean")]
    [TestCase("""{"model":["gpt-4"]}""", TestName = "Malformed body: model is an array")]
    [TestCase("""{"model":{"name":"gpt-4"}}""", TestName = "Malformed body: model is an object")]
    [TestCase("""{"model":{"name":"gpt-4"},"messages":[""", TestName = "Malformed body: model is an object and the rest is truncated")]
    public void A_malformed_body_returns_false_with_an_error(string json)
    {
        var ok = RequestInspector.TryInspect(Encoding.UTF8.GetBytes(json), out var inspection, out var error);

        Assert.That(ok, Is.False);
        Assert.That(error, Is.Not.Null.And.Not.Empty);
        Assert.That(inspection.Model, Is.Null);
        Assert.That(inspection.ModelTokenStart, Is.EqualTo(-1));
    }

    [Test]
    public void A_model_that_is_not_a_string_says_so()
    {
        RequestInspector.TryInspect("""{"model":42}"""u8, out _, out var error);

        Assert.That(error, Does.Contain("'model' must be a string"));
    }

    [Test]
    public void Deep_nesting_within_the_limit_is_accepted()
    {
        var json = "{\"model\":\"m\",\"x\":" + new string('[', 200) + new string(']', 200) + "}";

        Assert.That(Inspect(json).Model, Is.EqualTo("m"));
    }

    [Test]
    public void Nesting_beyond_the_limit_is_malformed()
    {
        var json = "{\"model\":\"m\",\"x\":" + new string('[', 300) + new string(']', 300) + "}";

        Assert.That(RequestInspector.TryInspect(Encoding.UTF8.GetBytes(json), out _, out _), Is.False);
    }
}
