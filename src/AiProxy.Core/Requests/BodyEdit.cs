namespace AiProxy.Requests;

/// <summary>One splice into a request body: <see cref="RemoveLength"/> bytes at <see cref="Offset"/> give way to <see cref="Insert"/>.</summary>
internal readonly record struct BodyEdit(int Offset, int RemoveLength, ReadOnlyMemory<byte> Insert)
{
    public bool IsNone => Offset < 0;

    public static BodyEdit None => new(-1, 0, default);
}
