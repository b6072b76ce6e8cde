using System.Collections.Concurrent;
using System.Diagnostics;
using NUnit.Framework;

namespace AiProxy.Packaging.Tests;

/// <summary>
/// Runs the <c>dotnet</c> CLI as a child process with an environment of its own: none of the test host's MSBuild
/// or test-platform variables, and no build servers or reused nodes that would outlive the command (and hold its
/// output pipes open).
/// </summary>
internal static class DotnetCli
{
    public static string HostPath => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    public static ProcessStartInfo CreateStartInfo(string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(HostPath)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var name in info.Environment.Keys.ToArray())
        {
            if (name.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("TESTINGPLATFORM", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("OpenAiProxy__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("OPENAI_", StringComparison.OrdinalIgnoreCase)
                || name.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(name);
            }
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["DOTNET_GENERATE_ASPNET_CERTIFICATE"] = "false";
        info.Environment["DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE"] = "1";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["UseSharedCompilation"] = "false";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return info;
    }

    /// <summary>Runs <c>dotnet arguments</c> to its end; fails the test, with the command's output, on a non-zero exit code.</summary>
    public static async Task<string> RunAsync(
        string workingDirectory,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = CreateStartInfo(workingDirectory, arguments, environment);
        var command = "dotnet " + string.Join(' ', info.ArgumentList);
        using var process = Start(info, out var output);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{command}' did not finish in time:\n{string.Join('\n', output)}");
        }

        var text = string.Join('\n', output);
        TestContext.Progress.WriteLine($"{command} -> {process.ExitCode}");
        if (process.ExitCode != 0)
        {
            Assert.Fail($"'{command}' exited with code {process.ExitCode}:\n{text}");
        }

        return text;
    }

    /// <summary>Starts a process collecting its stdout and stderr lines.</summary>
    public static Process Start(ProcessStartInfo info, out ConcurrentQueue<string> output)
    {
        var lines = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output = lines;
        return process;
    }
}
