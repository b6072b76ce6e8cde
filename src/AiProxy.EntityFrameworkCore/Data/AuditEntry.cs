namespace AiProxy.EntityFrameworkCore.Data;

/// <summary>One admin action: who did what to which token, when, and the token before and after (never a key or digest).</summary>
internal sealed class AuditEntry
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary>The name of the admin token that acted.</summary>
    public required string Actor { get; set; }

    /// <summary><c>create</c>, <c>update</c>, <c>delete</c> or <c>rotate</c>.</summary>
    public required string Action { get; set; }

    /// <summary>The token acted on.</summary>
    public required string Target { get; set; }

    /// <summary>The token as JSON before the action (<see langword="null"/> for a create).</summary>
    public string? Before { get; set; }

    /// <summary>The token as JSON after the action (<see langword="null"/> for a delete).</summary>
    public string? After { get; set; }
}
