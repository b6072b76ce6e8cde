using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Caching.Hybrid;

namespace AiProxy.Caching;

/// <summary>The byte form of a <see cref="CachedAnswer"/> in the distributed tier: a version byte, fixed fields, then the
/// content type, model, event offsets and body. No JSON round trip for the body.</summary>
internal sealed class CachedAnswerSerializer : IHybridCacheSerializer<CachedAnswer>
{
    private const byte Version = 1;

    public CachedAnswer Deserialize(ReadOnlySequence<byte> source)
    {
        var reader = new SequenceReader<byte>(source);
        if (!reader.TryRead(out var version) || version != Version)
        {
            throw new InvalidDataException("Unknown cached answer format.");
        }

        reader.TryRead(out var flags);
        var storedAt = ReadInt64(ref reader);
        var expiresAt = ReadInt64(ref reader);
        var usageEvent = ReadInt32(ref reader);
        var contentType = ReadString(ref reader) ?? "application/json";
        var model = ReadString(ref reader);
        var events = new int[ReadInt32(ref reader)];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = ReadInt32(ref reader);
        }

        var body = new byte[ReadInt32(ref reader)];
        if (!reader.TryCopyTo(body))
        {
            throw new InvalidDataException("Truncated cached answer.");
        }

        return new CachedAnswer
        {
            IsEventStream = (flags & 1) != 0,
            ContentType = contentType,
            StoredAt = storedAt,
            ExpiresAt = expiresAt,
            UsageEvent = usageEvent,
            ResponseModel = model,
            EventEnds = events,
            Body = body,
        };
    }

    public void Serialize(CachedAnswer value, IBufferWriter<byte> target)
    {
        var head = target.GetSpan(26);
        head[0] = Version;
        head[1] = (byte)(value.IsEventStream ? 1 : 0);
        BinaryPrimitives.WriteInt64LittleEndian(head[2..], value.StoredAt);
        BinaryPrimitives.WriteInt64LittleEndian(head[10..], value.ExpiresAt);
        BinaryPrimitives.WriteInt32LittleEndian(head[18..], value.UsageEvent);
        target.Advance(22);
        WriteString(target, value.ContentType);
        WriteString(target, value.ResponseModel);
        WriteInt32(target, value.EventEnds.Length);
        foreach (var end in value.EventEnds)
        {
            WriteInt32(target, end);
        }

        WriteInt32(target, value.Body.Length);
        target.Write(value.Body);
    }

    private static void WriteInt32(IBufferWriter<byte> target, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(target.GetSpan(4), value);
        target.Advance(4);
    }

    private static void WriteString(IBufferWriter<byte> target, string? value)
    {
        if (value is null)
        {
            WriteInt32(target, -1);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        WriteInt32(target, bytes.Length);
        target.Write(bytes);
    }

    private static long ReadInt64(ref SequenceReader<byte> reader)
        => reader.TryReadLittleEndian(out long value) ? value : throw new InvalidDataException("Truncated cached answer.");

    private static int ReadInt32(ref SequenceReader<byte> reader)
        => reader.TryReadLittleEndian(out int value) ? value : throw new InvalidDataException("Truncated cached answer.");

    private static string? ReadString(ref SequenceReader<byte> reader)
    {
        var length = ReadInt32(ref reader);
        if (length < 0)
        {
            return null;
        }

        var bytes = new byte[length];
        if (!reader.TryCopyTo(bytes))
        {
            throw new InvalidDataException("Truncated cached answer.");
        }

        reader.Advance(length);
        return Encoding.UTF8.GetString(bytes);
    }
}
