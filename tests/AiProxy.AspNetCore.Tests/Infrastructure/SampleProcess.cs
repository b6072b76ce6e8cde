using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace AiProxy.AspNetCore.Tests.Infrastructure;

/// <summary>
/// The sample app's build output run as a process of its own, as <c>dotnet AiProxy.Sample.dll --urls ...</c>
/// on a free loopback port, with none of the test run's ASP.NET Core or AiProxy environment variables.
/// </summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    public const string Token = "sk-aiproxy-sample";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private SampleProcess(Process process, ConcurrentQueue<string> output, Uri root)
    {
        _process = process;
        _output = output;
        Root = root;
    }

    /// <summary>The address given to <c>--urls</c>.</summary>
    public Uri Root { get; }

    /// <summary>The OpenAI base URL of the sample's gateway.</summary>
    public Uri BaseUrl => new(Root, "/proxy/v1");

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output => string.Join('\n', _output);

    public HttpClient CreateClient()
    {
        var client = new HttpClient { BaseAddress = new Uri(Root, "/proxy/") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public static async Task<SampleProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var dll = FindSampleDll();
        var root = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{FreePort()}"));
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(root.ToString().TrimEnd('/'));
        foreach (var name in info.Environment.Keys.ToArray())
        {
            if (name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("OpenAiProxy__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("OPENAI_", StringComparison.OrdinalIgnoreCase)
                || name.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase))
            {
                info.Environment.Remove(name);
            }
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var output = new ConcurrentQueue<string>();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sample = new SampleProcess(process, output, root);
        try
        {
            await sample.WaitUntilReadyAsync();
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }

        return sample;
    }

    private async Task WaitUntilReadyAsync()
    {
        using var client = CreateClient();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"The sample exited with code {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync("status");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (deadline.Elapsed > StartTimeout)
            {
                Assert.Fail($"The sample did not answer on {Root} within {StartTimeout.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindSampleDll()
    {
        // The sample is built by the ProjectReference with this project's configuration and framework, so its output
        // sits at the same place relative to its project: bin/Debug/net10.0/ here means bin/Debug/net10.0/ there.
        var testOutput = AppContext.BaseDirectory;
        var projectDir = Ancestor(testOutput, "AiProxy.AspNetCore.Tests.csproj");
        var repositoryRoot = Ancestor(projectDir, "AiProxy.sln");
        var dll = Path.Combine(repositoryRoot, "samples", "AiProxy.Sample", Path.GetRelativePath(projectDir, testOutput), "AiProxy.Sample.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("The sample was not built where expected.", dll);
    }

    private static string Ancestor(string start, string containingFile)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, containingFile)))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No {containingFile} above {start}.");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }
}
