using System.Globalization;
using System.Text.Json;
using AiProxy.EntityFrameworkCore.Data;
using AiProxy.EntityFrameworkCore.Tokens;

namespace AiProxy.EntityFrameworkCore.Admin;

/// <summary>
/// The body of <c>POST /admin/tokens</c> (every field but <c>name</c> optional) or <c>PATCH /admin/tokens/{name}</c>
/// (only the fields to change; <c>null</c> clears a limit or the expiry). Strict: an unknown field, a field given twice
/// or a value of the wrong type is refused with the field named, before anything is written.
/// </summary>
internal sealed class TokenRequest
{
    public const int MaxListItems = 100;
    public const int MaxItemLength = 256;

    private static readonly string[] Fields =
    [
        "name", "enabled", "admin", "expires_at", "allowed_models", "allowed_paths", "allowed_providers",
        "requests_per_minute", "tokens_per_minute", "max_concurrent_requests",
    ];

    private TokenRequest()
    {
    }

    public string? Name { get; private set; }

    public bool? Enabled { get; private set; }

    public bool? Admin { get; private set; }

    public Field<DateTimeOffset?> ExpiresAt { get; private set; }

    public string[]? AllowedModels { get; private set; }

    public string[]? AllowedPaths { get; private set; }

    public string[]? AllowedProviders { get; private set; }

    public Field<int?> RequestsPerMinute { get; private set; }

    public Field<int?> TokensPerMinute { get; private set; }

    public Field<int?> MaxConcurrentRequests { get; private set; }

    /// <summary>Reads a create (<paramref name="create"/>) or patch body.</summary>
    public static (TokenRequest? Request, AdminError? Error) Parse(JsonElement body, bool create)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, AdminError.BadRequest("The request body must be a JSON object."));
        }

        var request = new TokenRequest();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in body.EnumerateObject())
        {
            var name = property.Name;
            if (Array.IndexOf(Fields, name) < 0)
            {
                return (null, AdminError.BadRequest($"Unknown field '{name}'. Known fields: {string.Join(", ", Fields)}.", name));
            }

            if (!seen.Add(name))
            {
                return (null, AdminError.BadRequest($"The field '{name}' is given twice.", name));
            }

            var error = request.Read(name, property.Value, create);
            if (error is not null)
            {
                return (null, error);
            }
        }

        if (create && request.Name is null)
        {
            return (null, AdminError.BadRequest("The field 'name' is required.", "name"));
        }

        return (request, null);
    }

    /// <summary>Whether <paramref name="name"/> may name a token: 1 to 128 letters, digits, '-', '_' or '.' (it goes in URLs).</summary>
    public static bool IsValidName(string name)
        => name.Length is > 0 and <= ProxyStoreContext.MaxNameLength
            && name.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Sets the fields this request carries on <paramref name="token"/>.</summary>
    public void ApplyTo(StoredToken token)
    {
        token.Enabled = Enabled ?? token.Enabled;
        token.IsAdmin = Admin ?? token.IsAdmin;
        token.ExpiresAt = ExpiresAt.IsSet ? ExpiresAt.Value : token.ExpiresAt;
        token.AllowedModels = AllowedModels is null ? token.AllowedModels : TokenRows.Join(AllowedModels);
        token.AllowedPaths = AllowedPaths is null ? token.AllowedPaths : TokenRows.Join(AllowedPaths);
        token.AllowedProviders = AllowedProviders is null ? token.AllowedProviders : TokenRows.Join(AllowedProviders);
        token.RequestsPerMinute = RequestsPerMinute.IsSet ? RequestsPerMinute.Value : token.RequestsPerMinute;
        token.TokensPerMinute = TokensPerMinute.IsSet ? TokensPerMinute.Value : token.TokensPerMinute;
        token.MaxConcurrentRequests = MaxConcurrentRequests.IsSet ? MaxConcurrentRequests.Value : token.MaxConcurrentRequests;
    }

    private AdminError? Read(string name, JsonElement value, bool create)
    {
        switch (name)
        {
            case "name":
                if (!create)
                {
                    return AdminError.BadRequest("A token's name cannot be changed: create a new token instead.", name);
                }

                if (value.ValueKind != JsonValueKind.String || !IsValidName(value.GetString()!))
                {
                    return AdminError.BadRequest(
                        $"The field 'name' must be a string of 1 to {ProxyStoreContext.MaxNameLength} letters, digits, '-', '_' or '.'.", name);
                }

                Name = value.GetString();
                return null;
            case "enabled":
                return ReadBool(value, name, v => Enabled = v);
            case "admin":
                return ReadBool(value, name, v => Admin = v);
            case "expires_at":
                if (value.ValueKind == JsonValueKind.Null)
                {
                    ExpiresAt = new(null);
                    return null;
                }

                if (value.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expires))
                {
                    ExpiresAt = new(expires.ToUniversalTime());
                    return null;
                }

                return AdminError.BadRequest("The field 'expires_at' must be an ISO 8601 date and time (2027-01-31T00:00:00Z) or null.", name);
            case "allowed_models":
                return ReadList(value, name, v => AllowedModels = v);
            case "allowed_paths":
                return ReadList(value, name, v => AllowedPaths = v);
            case "allowed_providers":
                return ReadList(value, name, v => AllowedProviders = v);
            case "requests_per_minute":
                return ReadLimit(value, name, v => RequestsPerMinute = v);
            case "tokens_per_minute":
                return ReadLimit(value, name, v => TokensPerMinute = v);
            default:
                return ReadLimit(value, name, v => MaxConcurrentRequests = v);
        }
    }

    private static AdminError? ReadBool(JsonElement value, string name, Action<bool> set)
    {
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return AdminError.BadRequest($"The field '{name}' must be true or false.", name);
        }

        set(value.GetBoolean());
        return null;
    }

    private static AdminError? ReadLimit(JsonElement value, string name, Action<Field<int?>> set)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            set(new(null));
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var limit) || limit < 1)
        {
            return AdminError.BadRequest($"The field '{name}' must be a whole number of at least 1, or null for no limit.", name);
        }

        set(new(limit));
        return null;
    }

    private static AdminError? ReadList(JsonElement value, string name, Action<string[]> set)
    {
        var error = AdminError.BadRequest(
            $"The field '{name}' must be an array of at most {MaxListItems} non-empty strings of at most {MaxItemLength} characters, without line breaks.", name);
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() > MaxListItems)
        {
            return error;
        }

        var items = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 and <= MaxItemLength } text
                || text.AsSpan().ContainsAny('\r', '\n') || string.IsNullOrWhiteSpace(text))
            {
                return error;
            }

            items.Add(text);
        }

        set([.. items]);
        return null;
    }

    /// <summary>A field a patch may set to a value or to null, or leave out.</summary>
    public readonly record struct Field<T>(T Value)
    {
        public bool IsSet { get; } = true;
    }
}
