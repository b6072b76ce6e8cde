using System.Collections;
using System.Reflection;

namespace AiProxy.Docs.Tests;

/// <summary>
/// The configuration keys of the packages' options, found by reflection: every public class whose name ends in
/// <c>Options</c> in the four package assemblies, walked from its section (<see cref="Sections"/>) through nested option
/// types (<c>:Health:</c>), dictionary values (<c>:Providers:{name}:</c>) and list elements (<c>:ModelMappings:{i}:</c>).
/// </summary>
internal static class OptionKeys
{
    /// <summary>The section each root options class is bound from, as the docs and the validation messages name it.</summary>
    public static readonly IReadOnlyDictionary<Type, string> Sections = new Dictionary<Type, string>
    {
        [typeof(OpenAiProxyOptions)] = OpenAiProxyOptions.SectionName,
        [typeof(Redis.RedisOptions)] = "OpenAiProxy:Redis",
        [typeof(EntityFrameworkCore.ProxyStorageOptions)] = "OpenAiProxy:Storage",
    };

    /// <summary>One bindable property and every key path it is found at.</summary>
    public sealed record Option(Type Owner, string Property, List<string> Paths);

    /// <summary>The public classes named <c>*Options</c> of the package assemblies.</summary>
    public static IEnumerable<Type> OptionsClasses()
        => SnippetCompiler.Packages.SelectMany(static a => a.GetExportedTypes())
            .Where(static t => t.IsClass && t.Name.EndsWith("Options", StringComparison.Ordinal));

    /// <summary>Every option reachable from <paramref name="roots"/>, with all its key paths.</summary>
    public static List<Option> Walk(IReadOnlyDictionary<Type, string> roots)
    {
        var options = new Dictionary<(Type, string), Option>();
        foreach (var (type, section) in roots)
        {
            Walk(type, section, options, []);
        }

        return [.. options.Values];
    }

    /// <summary>The options classes <see cref="Walk"/> reaches from <paramref name="roots"/>.</summary>
    public static HashSet<Type> Reachable(IReadOnlyDictionary<Type, string> roots)
    {
        var types = new HashSet<Type>(roots.Keys);
        foreach (var option in Walk(roots))
        {
            types.Add(option.Owner);
        }

        return types;
    }

    private static void Walk(Type type, string path, Dictionary<(Type, string), Option> options, HashSet<Type> visiting)
    {
        if (!visiting.Add(type))
        {
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(static p => p.GetMethod?.IsPublic == true && p.GetIndexParameters().Length == 0))
        {
            var key = $"{path}:{property.Name}";
            var propertyType = property.PropertyType;
            if (IsOptionsType(propertyType))
            {
                Walk(propertyType, key, options, visiting);
            }
            else if (DictionaryValueType(propertyType) is { } value && IsOptionsType(value))
            {
                Walk(value, key + ":{name}", options, visiting);
            }
            else if (ListElementType(propertyType) is { } element && IsOptionsType(element))
            {
                Walk(element, key + ":{i}", options, visiting);
            }
            else if (property.SetMethod?.IsPublic == true || DictionaryValueType(propertyType) is not null || ListElementType(propertyType) is not null)
            {
                // A settable value, or a collection of values the binder fills (Models, Headers, AllowedModels...).
                if (!options.TryGetValue((type, property.Name), out var option))
                {
                    options[(type, property.Name)] = option = new Option(type, property.Name, []);
                }

                option.Paths.Add(key);
            }
        }

        visiting.Remove(type);
    }

    private static bool IsOptionsType(Type type) => type.IsClass && type != typeof(string) && type.Name.EndsWith("Options", StringComparison.Ordinal);

    private static Type? DictionaryValueType(Type type)
        => Generic(type, typeof(IDictionary<,>)) is { } dictionary ? dictionary.GetGenericArguments()[1] : null;

    private static Type? ListElementType(Type type)
    {
        if (type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type) || DictionaryValueType(type) is not null)
        {
            return null;
        }

        return type.IsArray ? type.GetElementType() : Generic(type, typeof(IEnumerable<>))?.GetGenericArguments()[0];
    }

    private static Type? Generic(Type type, Type definition)
        => type.IsGenericType && type.GetGenericTypeDefinition() == definition
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition);
}
