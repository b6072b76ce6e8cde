using System.Diagnostics;
using System.Text;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

/// <summary>Reads a server-sent event stream event by event, noting when each arrived.</summary>
internal sealed class SseReader(Stream stream)
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public List<(string Data, TimeSpan ArrivedAt)> Events { get; } = [];

    /// <summary>Reads the next event's data; null at the end of the stream.</summary>
    public async Task<string?> ReadEventAsync(CancellationToken cancellationToken = default)
    {
        var data = new StringBuilder();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return data.Length > 0 ? Add(data.ToString()) : null;
            }

            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    return Add(data.ToString());
                }

                continue;
            }

            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(line.AsSpan(5).TrimStart(' '));
            }
        }
    }

    public async Task<List<string>> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        while (await ReadEventAsync(cancellationToken) is not null)
        {
        }

        return Events.Select(e => e.Data).ToList();
    }

    private string Add(string data)
    {
        Events.Add((data, _clock.Elapsed));
        return data;
    }
}
