using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Models.Messages;

namespace AiProxy.AspNetCore.Tests;

/// <summary>The official Anthropic .NET SDK talks to the gateway's <c>/v1/messages</c> as if it were Anthropic's API, while
/// an OpenAI-compatible provider answers behind it.</summary>
public sealed class AnthropicSdkTests
{
    private const string Model = "gpt-4o-mini";

    private FakeServer _upstream = null!;
    private ProxyHost _proxy = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _upstream = await FakeServer.StartAsync("primary");
        _proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [SetUp]
    public void ResetUpstream() => _upstream.Reset();

    private AnthropicClient Client() => new() { ApiKey = ProxyHost.Token, BaseUrl = new Uri(_proxy.Root, ProxyHost.Prefix).ToString(), MaxRetries = 0 };

    private static MessageCreateParams Ask(string text, long maxTokens = 256) => new()
    {
        Model = Model,
        MaxTokens = maxTokens,
        System = "You are terse.",
        Messages = [new UserMessageParam(text)],
    };

    [Test]
    public async Task Sdk_message_is_answered_by_an_openai_provider_through_translation()
    {
        var message = await Client().Messages.Create(Ask("Say hello"));

        Assert.That(message.Content, Has.Count.EqualTo(1));
        Assert.That(message.Content[0].TryPickText(out var text), Is.True);
        Assert.That(text!.Text, Is.EqualTo("Hello from primary"));
        Assert.That(message.StopReason!.Raw(), Is.EqualTo("end_turn"));
        Assert.That(message.Model.Raw(), Is.EqualTo(Model));
        Assert.That(message.Usage.InputTokens, Is.GreaterThan(0));
        Assert.That(message.Usage.OutputTokens, Is.EqualTo(3));

        var sent = _upstream.Forwarded().Single();
        Assert.That(sent.Path, Is.EqualTo("/v1/chat/completions"));
        using var body = JsonDocument.Parse(sent.Body);
        var messages = body.RootElement.GetProperty("messages");
        Assert.That(messages[0].GetProperty("role").GetString(), Is.EqualTo("system"));
        Assert.That(messages[0].GetProperty("content").GetString(), Is.EqualTo("You are terse."));
        Assert.That(messages[1].GetProperty("role").GetString(), Is.EqualTo("user"));
        Assert.That(body.RootElement.GetProperty("max_tokens").GetInt32(), Is.EqualTo(256));
        Assert.That(sent.Headers.ContainsKey("x-api-key"), Is.False, "the client's token never reaches the provider");
    }

    [Test]
    public async Task Sdk_stream_gets_the_whole_answer_in_anthropic_events()
    {
        _upstream.Behavior.ChunkCount = 5;
        var whole = await Client().Messages.Create(Ask("Say hello"));
        whole.Content[0].TryPickText(out var wholeText);

        var text = new StringBuilder();
        var kinds = new List<string>();
        string? stopReason = null;
        long? outputTokens = null, startInputTokens = null;
        await foreach (var e in Client().Messages.CreateStreaming(Ask("Say hello")))
        {
            if (e.TryPickStart(out var start))
            {
                kinds.Add("message_start");
                startInputTokens = start!.Message.Usage.InputTokens;
            }
            else if (e.TryPickContentBlockStart(out var blockStart))
            {
                kinds.Add($"content_block_start:{blockStart!.Index}");
            }
            else if (e.TryPickContentBlockDelta(out var delta))
            {
                kinds.Add($"content_block_delta:{delta!.Index}");
                if (delta.Delta.TryPickText(out var textDelta))
                {
                    text.Append(textDelta!.Text);
                }
            }
            else if (e.TryPickContentBlockStop(out var blockStop))
            {
                kinds.Add($"content_block_stop:{blockStop!.Index}");
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                kinds.Add("message_delta");
                stopReason = messageDelta!.Delta.StopReason?.Raw();
                outputTokens = messageDelta.Usage.OutputTokens;
            }
            else if (e.TryPickStop(out _))
            {
                kinds.Add("message_stop");
            }
        }

        Assert.That(text.ToString(), Is.EqualTo(wholeText!.Text));
        Assert.That(kinds, Is.EqualTo(new[] { "message_start", "content_block_start:0" }
            .Concat(Enumerable.Repeat("content_block_delta:0", 5))
            .Concat(["content_block_stop:0", "message_delta", "message_stop"])));
        Assert.That(stopReason, Is.EqualTo("end_turn"));
        Assert.That(outputTokens, Is.EqualTo(5));
        Assert.That(startInputTokens, Is.GreaterThan(0), "message_start carries an input-token estimate, never 0");
    }

    [Test]
    public async Task Sdk_tool_use_round_trip_reaches_the_provider_as_tool_calls_and_tool_messages()
    {
        _upstream.Behavior.ToolCalls = [new FakeToolCall("get_weather", """{"city":"Paris"}""")];
        var tool = new Tool
        {
            Name = "get_weather",
            Description = "Weather for a city",
            InputSchema = new InputSchema { Properties = new Dictionary<string, JsonElement> { ["city"] = JsonSerializer.SerializeToElement(new { type = "string" }) }, Required = ["city"] },
        };
        var ask = new MessageCreateParams { Model = Model, MaxTokens = 256, Messages = [new UserMessageParam("Weather in Paris?")], Tools = [tool] };

        var first = await Client().Messages.Create(ask);

        Assert.That(first.StopReason!.Raw(), Is.EqualTo("tool_use"));
        Assert.That(first.Content.Single().TryPickToolUse(out var use), Is.True);
        Assert.That(use!.Name, Is.EqualTo("get_weather"));
        Assert.That(use.Input["city"].GetString(), Is.EqualTo("Paris"));

        var second = await Client().Messages.Create(new MessageCreateParams
        {
            Model = Model,
            MaxTokens = 256,
            Tools = [tool],
            Messages =
            [
                new UserMessageParam("Weather in Paris?"),
                new AssistantMessageParam(new List<ContentBlockParam> { new ToolUseBlockParam { ID = use.ID, Name = use.Name, Input = use.Input } }),
                new UserMessageParam(new List<ContentBlockParam> { new ToolResultBlockParam(use.ID) { Content = "18 C and sunny" } }),
            ],
        });

        Assert.That(second.StopReason!.Raw(), Is.EqualTo("end_turn"));
        Assert.That(second.Content.Single().TryPickText(out _), Is.True);
        using var body = JsonDocument.Parse(_upstream.Forwarded()[^1].Body);
        var messages = body.RootElement.GetProperty("messages");
        Assert.That(messages.GetArrayLength(), Is.EqualTo(3));
        var call = messages[1].GetProperty("tool_calls")[0];
        Assert.That(call.GetProperty("id").GetString(), Is.EqualTo(use.ID));
        Assert.That(call.GetProperty("function").GetProperty("name").GetString(), Is.EqualTo("get_weather"));
        Assert.That(JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(messages[2].GetProperty("role").GetString(), Is.EqualTo("tool"));
        Assert.That(messages[2].GetProperty("tool_call_id").GetString(), Is.EqualTo(use.ID));
        Assert.That(messages[2].GetProperty("content").GetString(), Is.EqualTo("18 C and sunny"));
        Assert.That(body.RootElement.GetProperty("tools")[0].GetProperty("function").GetProperty("parameters").GetProperty("required")[0].GetString(), Is.EqualTo("city"));
    }

    [Test]
    public async Task Sdk_streamed_parallel_tool_calls_arrive_as_separate_tool_use_blocks_with_whole_inputs()
    {
        _upstream.Behavior.ToolCalls = [new FakeToolCall("get_weather", """{"city":"Paris"}"""), new FakeToolCall("get_time", "")];
        _upstream.Behavior.Reasoning = "The user wants two things.";
        var ask = new MessageCreateParams
        {
            Model = Model,
            MaxTokens = 256,
            Messages = [new UserMessageParam("Weather and time?")],
            Tools = [new Tool { Name = "get_weather", InputSchema = new InputSchema() }, new Tool { Name = "get_time", InputSchema = new InputSchema() }],
        };

        var starts = new List<(long Index, string Type, string? Name)>();
        var inputs = new Dictionary<long, StringBuilder>();
        string? stopReason = null;
        await foreach (var e in Client().Messages.CreateStreaming(ask))
        {
            if (e.TryPickContentBlockStart(out var start))
            {
                var name = start!.ContentBlock.TryPickToolUse(out var toolUse) ? toolUse!.Name : null;
                starts.Add((start.Index, start.ContentBlock.Json.GetProperty("type").GetString()!, name));
                inputs[start.Index] = new StringBuilder();
            }
            else if (e.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickInputJson(out var json))
            {
                inputs[delta.Index].Append(json!.PartialJson);
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta!.Delta.StopReason?.Raw();
            }
        }

        Assert.That(starts, Is.EqualTo(new[] { (0L, "thinking", (string?)null), (1L, "tool_use", "get_weather"), (2L, "tool_use", "get_time") }));
        Assert.That(JsonDocument.Parse(inputs[1].ToString()).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(inputs[2].ToString(), Is.EqualTo("{}"), "a call without arguments has an empty object as input");
        Assert.That(stopReason, Is.EqualTo("tool_use"));
    }

    [Test]
    public async Task Sdk_streamed_parallel_tool_calls_that_the_provider_interleaves_arrive_as_contiguous_blocks_with_whole_inputs()
    {
        _upstream.Behavior.ToolCalls =
        [
            new FakeToolCall("get_weather", """{"city":"Paris, \"FR\" {1}"}"""),
            new FakeToolCall("get_time", """{"tz":"Europe/Paris"}"""),
            new FakeToolCall("search", """{"q":["a]","b}"]}"""),
        ];
        _upstream.Behavior.InterleaveToolCalls = true;
        var ask = new MessageCreateParams
        {
            Model = Model,
            MaxTokens = 256,
            Messages = [new UserMessageParam("Weather, time and a search?")],
            Tools = [new Tool { Name = "get_weather", InputSchema = new InputSchema() }, new Tool { Name = "get_time", InputSchema = new InputSchema() },
                new Tool { Name = "search", InputSchema = new InputSchema() }],
        };

        var order = new List<string>();
        var names = new List<string>();
        var inputs = new Dictionary<long, StringBuilder>();
        string? stopReason = null;
        await foreach (var e in Client().Messages.CreateStreaming(ask))
        {
            if (e.TryPickContentBlockStart(out var start))
            {
                order.Add($"start:{start!.Index}");
                names.Add(start.ContentBlock.TryPickToolUse(out var toolUse) ? toolUse!.Name : "?");
                inputs[start.Index] = new StringBuilder();
            }
            else if (e.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickInputJson(out var json))
            {
                order.Add($"delta:{delta.Index}");
                inputs[delta.Index].Append(json!.PartialJson);
            }
            else if (e.TryPickContentBlockStop(out var stop))
            {
                order.Add($"stop:{stop!.Index}");
            }
            else if (e.TryPickDelta(out var messageDelta))
            {
                stopReason = messageDelta!.Delta.StopReason?.Raw();
            }
        }

        Assert.That(names, Is.EqualTo(new[] { "get_weather", "get_time", "search" }), "one block per call, in index order");
        for (var block = 0; block < 3; block++)
        {
            var first = order.IndexOf($"start:{block}");
            var last = order.IndexOf($"stop:{block}");
            Assert.That(order.Skip(first + 1).Take(last - first - 1), Is.All.EqualTo($"delta:{block}"), $"block {block}'s deltas are contiguous");
        }

        Assert.That(JsonDocument.Parse(inputs[0].ToString()).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris, \"FR\" {1}"));
        Assert.That(JsonDocument.Parse(inputs[1].ToString()).RootElement.GetProperty("tz").GetString(), Is.EqualTo("Europe/Paris"));
        Assert.That(inputs[2].ToString(), Is.EqualTo("""{"q":["a]","b}"]}"""), "no fragment lost");
        Assert.That(stopReason, Is.EqualTo("tool_use"));
    }

    [Test]
    public async Task Sdk_count_tokens_answers_an_estimate_without_calling_a_provider()
    {
        var text = string.Join(' ', Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 20));
        var count = await Client().Messages.CountTokens(new MessageCountTokensParams { Model = Model, Messages = [new UserMessageParam(text)] });

        // About 10 tokens per sentence in any tokenizer: an estimate that errs high is at least that.
        Assert.That(count.InputTokens, Is.GreaterThanOrEqualTo(200));
        Assert.That(count.InputTokens, Is.LessThan(text.Length), "not absurdly high either");
        Assert.That(_upstream.ForwardedCount(), Is.Zero);
    }

    [Test]
    public async Task Sdk_lists_the_gateways_models_in_anthropic_shape()
    {
        var page = await Client().Models.List(new global::Anthropic.Models.Models.ModelListParams());

        Assert.That(page.Items.Select(m => m.ID), Does.Contain(Model));
    }

    [Test]
    public async Task Sdk_message_falls_back_to_the_next_provider_when_the_first_fails()
    {
        await using var backup = await FakeServer.StartAsync("backup");
        await using var proxy = await ProxyHost.StartAsync(ProxyHost.ProvidersFor(_upstream, backup));
        _upstream.Behavior.FailStatus = 500;
        var client = new AnthropicClient { ApiKey = ProxyHost.Token, BaseUrl = new Uri(proxy.Root, ProxyHost.Prefix).ToString(), MaxRetries = 0 };

        var message = await client.Messages.Create(Ask("Say hello"));

        message.Content[0].TryPickText(out var text);
        Assert.That(text!.Text, Is.EqualTo("Hello from backup"));
        Assert.That(_upstream.ForwardedCount(), Is.EqualTo(1));
        Assert.That(backup.ForwardedCount(), Is.EqualTo(1));
    }
}
