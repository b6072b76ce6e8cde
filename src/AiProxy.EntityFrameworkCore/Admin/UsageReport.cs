using System.Globalization;
using System.Text;
using System.Text.Json;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.Pricing;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary><c>GET /admin/usage?from=&amp;to=&amp;group_by=token|model|provider</c>: the persisted daily usage and cost of a
/// range of UTC days (both ends included; default the last 30 days), summed per token, model or provider, as JSON or, for
/// <c>Accept: text/csv</c>, as CSV. Cost is in US dollars; requests whose model had no price are counted apart
/// (<c>unpriced_requests</c>), their cost being unknown.</summary>
internal sealed class UsageReport(ProxyStoreContextFactory contexts, TimeProvider time)
{
    public const int MaxDays = 3660;
    private static readonly string[] Groups = ["token", "model", "provider"];

    public async Task HandleAsync(HttpContext context)
    {
        var query = context.Request.Query;
        var to = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        if (!TryDay(query, "to", ref to, out var error))
        {
            await error!.WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var from = to.AddDays(-29);
        if (!TryDay(query, "from", ref from, out error))
        {
            await error!.WriteAsync(context).ConfigureAwait(false);
            return;
        }

        if (from > to || to.DayNumber - from.DayNumber >= MaxDays)
        {
            await AdminError.BadRequest($"'from' must not be after 'to', and the range at most {MaxDays} days.", "from").WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var groupBy = query["group_by"].Count == 0 ? "token" : query["group_by"].ToString();
        if (Array.IndexOf(Groups, groupBy) < 0)
        {
            await AdminError.BadRequest("'group_by' must be token, model or provider.", "group_by").WriteAsync(context).ConfigureAwait(false);
            return;
        }

        var rows = await QueryAsync(from, to, groupBy, context.RequestAborted).ConfigureAwait(false);
        var accept = context.Request.Headers.Accept.ToString();
        if (accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase))
        {
            await WriteCsvAsync(context, groupBy, rows).ConfigureAwait(false);
        }
        else
        {
            await WriteJsonAsync(context, from, to, groupBy, rows).ConfigureAwait(false);
        }
    }

    private async Task<List<Row>> QueryAsync(DateOnly from, DateOnly to, string groupBy, CancellationToken cancellationToken)
    {
        await using var db = contexts.Create();
        var days = db.Usage.AsNoTracking().Where(u => u.Day >= from && u.Day <= to);
        var grouped = groupBy switch
        {
            "model" => days.GroupBy(u => u.Model),
            "provider" => days.GroupBy(u => u.Provider),
            _ => days.GroupBy(u => u.Caller),
        };
        var rows = await grouped
            .Select(g => new Row(
                g.Key, g.Sum(u => u.Requests), g.Sum(u => u.InputTokens), g.Sum(u => u.OutputTokens), g.Sum(u => u.TotalTokens),
                g.Sum(u => u.CostNanodollars), g.Sum(u => u.UnpricedRequests)))
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        rows.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return rows;
    }

    private static async Task WriteJsonAsync(HttpContext context, DateOnly from, DateOnly to, string groupBy, List<Row> rows)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteString("from", from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        writer.WriteString("to", to.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        writer.WriteString("group_by", groupBy);
        writer.WriteStartArray("data");
        foreach (var row in rows)
        {
            writer.WriteStartObject();
            writer.WriteString(groupBy, row.Key);
            writer.WriteNumber("requests", row.Requests);
            writer.WriteNumber("input_tokens", row.InputTokens);
            writer.WriteNumber("output_tokens", row.OutputTokens);
            writer.WriteNumber("total_tokens", row.TotalTokens);
            writer.WriteNumber("cost", Nanodollars.ToUsd(row.CostNanodollars));
            writer.WriteNumber("unpriced_requests", row.UnpricedRequests);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static async Task WriteCsvAsync(HttpContext context, string groupBy, List<Row> rows)
    {
        context.Response.ContentType = "text/csv; charset=utf-8";
        var csv = new StringBuilder();
        csv.Append(groupBy).Append(",requests,input_tokens,output_tokens,total_tokens,cost,unpriced_requests\n");
        foreach (var row in rows)
        {
            csv.Append(Escape(row.Key)).Append(',')
                .Append(row.Requests.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(row.InputTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(row.OutputTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(row.TotalTokens.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(Nanodollars.ToUsd(row.CostNanodollars).ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(row.UnpricedRequests.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        await context.Response.WriteAsync(csv.ToString(), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>RFC 4180 quoting; a leading <c>=</c>, <c>+</c>, <c>-</c> or <c>@</c> is quoted behind a <c>'</c> so that a
    /// model name cannot become a spreadsheet formula.</summary>
    private static string Escape(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value.StartsWith('\'') ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    private static bool TryDay(IQueryCollection query, string name, ref DateOnly day, out AdminError? error)
    {
        error = null;
        if (query[name].Count == 0)
        {
            return true;
        }

        if (DateOnly.TryParseExact(query[name].ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            day = parsed;
            return true;
        }

        error = AdminError.BadRequest($"'{name}' must be a UTC day as yyyy-MM-dd.", name);
        return false;
    }

    private sealed record Row(string Key, long Requests, long InputTokens, long OutputTokens, long TotalTokens, long CostNanodollars, long UnpricedRequests);
}
