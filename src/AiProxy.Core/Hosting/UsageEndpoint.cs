using System.Globalization;
using System.Text.Json;
using AiProxy.Usage;

namespace AiProxy.Hosting;

/// <summary>
/// The dashboard's <c>api/usage</c>: today's usage (UTC) by token and by model, from <see cref="IProxyUsageStore"/> (this
/// instance's, or every instance's with a shared store such as Redis). Admin tokens only: it names callers.
/// </summary>
internal sealed class UsageEndpoint(IProxyUsageStore usage, AdminAccess access, TimeProvider time)
{
    public async Task HandleAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (await access.AuthorizeAsync(client, "the usage by token").ConfigureAwait(false) is null)
        {
            return;
        }

        var day = await usage.GetDailyUsageAsync(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), client.Aborted).ConfigureAwait(false);
        StartJsonWithoutRequestId(client);
        using (var json = new Utf8JsonWriter(client.Body))
        {
            json.WriteStartObject();
            json.WriteString("object", "aiproxy.dashboard.usage");
            json.WriteString("day", day.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            json.WriteBoolean("shared", day.IsShared);
            WriteGroups(json, "by_token", "token", day.Counters.GroupBy(static c => c.Caller, StringComparer.Ordinal));
            WriteGroups(json, "by_model", "model", day.Counters.GroupBy(static c => c.Model, StringComparer.Ordinal));
            json.WriteEndObject();
        }

        await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
    }

    /// <summary>As before the move: this answer never carried <c>x-request-id</c>.</summary>
    private static void StartJsonWithoutRequestId<TClient>(TClient client)
        where TClient : IProxyResponseSink
    {
        client.Start(new ProxyResponseHead(200, isEventStream: false));
        client.SetHeader("Content-Type", "application/json");
        client.SetHeader("Cache-Control", "no-store");
    }

    private static void WriteGroups(Utf8JsonWriter json, string name, string key, IEnumerable<IGrouping<string, ProxyUsageCounter>> groups)
    {
        json.WriteStartArray(name);
        foreach (var group in groups.OrderByDescending(static g => g.Sum(static c => c.TotalTokens)).ThenBy(static g => g.Key, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString(key, group.Key);
            json.WriteNumber("requests", group.Sum(static c => c.Requests));
            json.WriteNumber("input_tokens", group.Sum(static c => c.InputTokens));
            json.WriteNumber("output_tokens", group.Sum(static c => c.OutputTokens));
            json.WriteNumber("total_tokens", group.Sum(static c => c.TotalTokens));
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
