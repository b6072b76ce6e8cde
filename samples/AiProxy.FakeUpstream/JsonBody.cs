using System.Text.Json;

namespace AiProxy.FakeUpstream;

/// <summary>Parsing of request bodies, tolerant of anything a client may send.</summary>
internal static class JsonBody
{
    /// <summary>What the real API answers to a body it cannot parse.</summary>
    public const string UnparsableMessage =
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. " +
        "The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";

    public static JsonDocument? TryParse(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
