namespace AiProxy;
internal static class Placeholder { }
