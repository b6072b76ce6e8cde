using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using NUnit.Framework;
using FakeServer = AiProxy.FakeUpstream.FakeUpstream;

namespace AiProxy.Packaging.Tests;

/// <summary>
/// The packages work for a newcomer: packed from this repository, added with <c>dotnet add package</c> to a fresh
/// <c>dotnet new web</c> app outside it (so the repository's central package versions and build settings cannot
/// leak in), and serving a chat completion through two lines of host code.
/// </summary>
[Category("Packaging")]
public sealed class PackagingTests
{
    private const string Token = "sk-packaging-round-trip";
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(8);

    private const string ProgramSource = """
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddOpenAiProxy(builder.Configuration.GetSection("OpenAiProxy"));
        var app = builder.Build();
        app.MapOpenAiProxy("/proxy");
        app.Run();
        """;

    [Test]
    public async Task Packed_gateway_added_to_a_fresh_web_app_serves_a_chat_completion()
    {
        using var budget = new CancellationTokenSource(Budget);
        var ct = budget.Token;
        var repository = FindRepositoryRoot();
        var version = ReadVersion(repository);
        var work = Directory.CreateTempSubdirectory("aiproxy-packaging-");
        Process? app = null;
        try
        {
            // 1. Pack both packages, as a release would.
            var packages = Path.Combine(work.FullName, "packages");
            await DotnetCli.RunAsync(repository, ["pack", Path.Combine("src", "AiProxy.AspNetCore", "AiProxy.AspNetCore.csproj"), "-c", "Release", "-o", packages], ct);
            await DotnetCli.RunAsync(repository, ["pack", Path.Combine("src", "AiProxy.Core", "AiProxy.Core.csproj"), "-c", "Release", "--no-build", "-o", packages], ct);
            foreach (var id in new[] { "AiProxy.Core", "AiProxy.AspNetCore" })
            {
                AssertPackage(Path.Combine(packages, $"{id}.{version}.nupkg"), id);
                Assert.That(File.Exists(Path.Combine(packages, $"{id}.{version}.snupkg")), Is.True, $"{id} symbols");
            }

            // 2. A fresh web app outside the repository, restoring from the pack folder and the machine's own sources,
            //    into a package cache of its own (a cached copy of the same version must not stand in for this build).
            var appDirectory = Path.Combine(work.FullName, "app");
            await DotnetCli.RunAsync(work.FullName, ["new", "web", "-o", appDirectory, "-n", "PackagingRoundTrip", "--no-restore"], ct);
            await File.WriteAllTextAsync(Path.Combine(appDirectory, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="aiproxy-local-pack" value="{packages}" />
                  </packageSources>
                </configuration>
                """, ct);
            var isolated = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work.FullName, "nuget-packages") };
            await DotnetCli.RunAsync(appDirectory, ["add", "package", "AiProxy.AspNetCore", "--version", version], ct, isolated);
            await File.WriteAllTextAsync(Path.Combine(appDirectory, "Program.cs"), ProgramSource, ct);
            await DotnetCli.RunAsync(appDirectory, ["build", "-c", "Release", "-p:TreatWarningsAsErrors=true"], ct, isolated);

            // 3. Run it against a fake upstream and send it a chat completion.
            await using var upstream = await FakeServer.StartAsync("fake");
            var root = $"http://127.0.0.1:{FreePort().ToString(CultureInfo.InvariantCulture)}";
            var output = Path.Combine(appDirectory, "bin", "Release", "net10.0");
            var info = DotnetCli.CreateStartInfo(output, [Path.Combine(output, "PackagingRoundTrip.dll"), "--urls", root], new Dictionary<string, string>
            {
                ["OpenAiProxy__Providers__fake__BaseUrl"] = upstream.BaseUrl.ToString(),
                ["OpenAiProxy__Tokens__round-trip__Key"] = Token,
            });
            app = DotnetCli.Start(info, out var appOutput);
            using var client = new HttpClient { BaseAddress = new Uri(root + "/proxy/") };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            await WaitUntilAnsweringAsync(client, app, appOutput, ct);

            using var response = await client.PostAsync(
                "v1/chat/completions",
                new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""", Encoding.UTF8, "application/json"),
                ct);

            var body = await response.Content.ReadAsStringAsync(ct);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body + "\n" + string.Join('\n', appOutput));
            using var completion = JsonDocument.Parse(body);
            Assert.That(completion.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), Is.Not.Empty);
            Assert.That(response.Headers.GetValues("x-aiproxy-provider").Single(), Is.EqualTo("fake"));
            Assert.That(upstream.Requests.Count(r => r.Path == "/v1/chat/completions"), Is.EqualTo(1));
        }
        finally
        {
            if (app is not null)
            {
                if (!app.HasExited)
                {
                    app.Kill(entireProcessTree: true);
                }

                try
                {
                    await app.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15), CancellationToken.None);
                }
                catch (TimeoutException)
                {
                    // Killed; its pipes closing late must not hide the test's own outcome.
                }

                app.Dispose();
            }

            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is not worth failing the run for.
            }
        }
    }

    private static void AssertPackage(string path, string id)
    {
        Assert.That(File.Exists(path), Is.True, path);
        using var zip = ZipFile.OpenRead(path);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(entries, Does.Contain("README.md"), $"{id} readme");
        Assert.That(entries, Does.Contain($"lib/net10.0/{id}.dll"));
        Assert.That(entries, Does.Contain($"lib/net10.0/{id}.xml"), $"{id} XML docs");
        using var nuspec = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
        var metadata = XDocument.Parse(nuspec.ReadToEnd()).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.That(Value("license"), Is.EqualTo("MIT"), $"{id} licence expression");
        Assert.That(Value("readme"), Is.EqualTo("README.md"));
        Assert.That(Value("description"), Is.Not.Empty);
    }

    private static async Task WaitUntilAnsweringAsync(HttpClient client, Process app, IEnumerable<string> output, CancellationToken ct)
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (app.HasExited)
            {
                Assert.Fail($"The app exited with code {app.ExitCode}:\n{string.Join('\n', output)}");
            }

            try
            {
                using var response = await client.GetAsync("v1/models", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (started.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail($"The app did not answer within 60 s:\n{string.Join('\n', output)}");
            }

            await Task.Delay(100, ct);
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AiProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("No AiProxy.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>The one place versions come from.</summary>
    private static string ReadVersion(string repository)
    {
        var props = XDocument.Load(Path.Combine(repository, "Directory.Build.props"));
        return props.Descendants("Version").Single().Value.Trim();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
