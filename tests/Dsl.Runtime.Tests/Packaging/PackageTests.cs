using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dsl.Runtime.Images;
using Xunit;

namespace Dsl.Runtime.Tests.Packaging;

/// <summary>What a .NET developer does with the packages, in folders outside the repository and with no reference to
/// its projects: a console app that adds the Dsl.Runtime package and runs the package README's example, and the dsl
/// tool installed from the same feed.</summary>
public class PackageTests(PackedFeed feed) : IClassFixture<PackedFeed>
{
    // Fashion-MNIST's classes as its publisher lists them (github.com/zalandoresearch/fashion-mnist).
    static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    [Fact]
    public void TheLibraryPackageCarriesDocsSymbolsLicenceAndItsDependencies()
    {
        foreach (var id in new[] { "Dsl.Core", "Dsl.Compiler", "Dsl.Runtime" })
        {
            var entries = feed.Entries(id);
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
            Assert.Contains("README.md", entries);
            Assert.True(File.Exists(Path.Combine(feed.Feed, $"{id}.{feed.Version}.snupkg")), $"{id} has no symbols package");
            var nuspec = feed.Read(id, $"{id}.nuspec");
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains($"<version>{feed.Version}</version>", nuspec);
        }
        Assert.Contains($"<dependency id=\"Dsl.Compiler\" version=\"{feed.Version}\"", feed.Read("Dsl.Runtime", "Dsl.Runtime.nuspec"));
        Assert.Contains($"<dependency id=\"Dsl.Core\" version=\"{feed.Version}\"", feed.Read("Dsl.Compiler", "Dsl.Compiler.nuspec"));
    }

    [Fact]
    public void TheReadmeExampleBuildsAgainstThePackageTrainsAndPredicts()
    {
        var example = Regex.Match(feed.Read("Dsl.Runtime", "README.md"), "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(example.Success, "the package README has no csharp block");
        Assert.Contains(example.Value, File.ReadAllText(Path.Combine(Networks.RepoRoot, "README.md")));

        var app = Path.Combine(feed.Root, "app");
        Dotnet("new console -o app", feed.Root);
        Dotnet($"add package Dsl.Runtime --version {feed.Version}", app);
        File.WriteAllText(Path.Combine(app, "Program.cs"), example.Groups[1].Value);
        Directory.CreateDirectory(Path.Combine(app, "Models"));
        File.Copy(Path.Combine(Networks.RepoRoot, "Models", "lenet.model"), Path.Combine(app, "Models", "lenet.model"));
        File.WriteAllBytes(Path.Combine(app, "shoe.png"), FirstTestImage().ToPng());
        Dotnet("build --disable-build-servers", app);
        Assert.DoesNotContain("ProjectReference", File.ReadAllText(Path.Combine(app, "app.csproj")));
        // What restore resolved: the three packages from the feed, no project anywhere.
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(app, "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetProperty("type").GetString());
        foreach (var id in new[] { "Dsl.Core", "Dsl.Compiler", "Dsl.Runtime" }) Assert.Equal("package", libraries[$"{id}/{feed.Version}"]);
        Assert.DoesNotContain("project", libraries.Values);

        // The data set comes from DSL_DATA, the shipped subset, which this process set and the app inherits.
        var (code, output) = Processes.Run("dotnet", Path.Combine("bin", "Debug", "net10.0", "app.dll"), app, feed.Environment);
        Assert.True(code == 0, output);
        var accuracy = Regex.Match(output, @"test accuracy (\d+[.,]\d+) ?%");
        Assert.True(accuracy.Success, output);
        // One epoch on 1,800 images: far above chance (10 %) for LeNet, though far from its best.
        Assert.True(double.Parse(accuracy.Groups[1].Value.Replace(',', '.'), System.Globalization.CultureInfo.InvariantCulture) > 40, output);
        var predictions = Regex.Matches(output, @"^(.+): (\d+[.,]\d) ?%$", RegexOptions.Multiline);
        Assert.Equal(3, predictions.Count);
        Assert.All(predictions, p => Assert.Contains(p.Groups[1].Value, FashionClasses));
        Assert.True(File.Exists(Path.Combine(app, "lenet.safetensors")), output);
        Assert.True(File.Exists(Path.Combine(app, "runs", "lenet", "metrics.csv")), output);
    }

    [Fact]
    public void TheCSharpExampleBuildsAgainstThePackageTrainsSavesAndClassifies()
    {
        var app = Directory.CreateDirectory(Path.Combine(feed.Root, "CSharpApp")).FullName;
        foreach (var file in new[] { "CSharpApp.csproj", "Program.cs" })
            File.Copy(Path.Combine(Networks.RepoRoot, "examples", "CSharpApp", file), Path.Combine(app, file));
        Directory.CreateDirectory(Path.Combine(app, "Models"));
        File.Copy(Path.Combine(Networks.RepoRoot, "Models", "lenet.model"), Path.Combine(app, "Models", "lenet.model"));
        Dotnet($"build -p:DslPackageVersion={feed.Version} --disable-build-servers", app);
        Assert.True(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "Dsl.Runtime.dll")), "the package's library is not in the output");

        var (code, output) = Processes.Run("dotnet", $"{Path.Combine("bin", "Debug", "net10.0", "CSharpApp.dll")} --epochs 1 --limit 1000 --device cpu", app, feed.Environment);
        Assert.True(code == 0, output);
        Assert.Matches(@"test accuracy \d", output);
        Assert.Contains("weights saved to", output);
        Assert.Equal(5, Regex.Matches(output, "test image \\d: ").Count);
    }

    [Fact]
    public void TheToolInstallsAndWorksOutsideTheRepository()
    {
        var tools = Path.Combine(feed.Root, "tools");
        Dotnet($"tool install dsl --tool-path \"{tools}\" --version {feed.Version}", feed.Root);
        var work = Directory.CreateDirectory(Path.Combine(feed.Root, "work")).FullName;
        // 28*28*10 weights + 10 biases = 7,850 parameters, and as many multiply-adds less the biases: 7,840.
        File.WriteAllText(Path.Combine(work, "tiny.model"), """
            network tiny
              input 1 x 28 x 28
              flatten
              dense 10
              softmax

            train
              data    fashion-mnist
              epochs  1
            """);
        var dsl = Path.Combine(tools, "dsl");

        var (code, output) = Processes.Run(dsl, "--version", work, feed.Environment);
        Assert.True(code == 0, output);
        // The commit follows a `+` where the build had git to ask.
        Assert.Matches($@"^dsl {Regex.Escape(feed.Version)}(\+[0-9a-f]+)?\n$", output);

        (code, output) = Processes.Run(dsl, "check tiny.model", work, feed.Environment);
        Assert.True(code == 0, output);
        Assert.Contains("ok: tiny, 3 layers", output);
        Assert.Contains("7,850 parameters, 7,840 multiply-adds", output);

        (code, output) = Processes.Run(dsl, "summary tiny.model", work, feed.Environment);
        Assert.True(code == 0, output);
        Assert.Matches(@"dense\s.*\b7,850\b", output);

        // A run reads the data set through DSL_DATA (inherited) and writes its folder under the current directory.
        (code, output) = Processes.Run(dsl, "run tiny.model --limit 500 --device cpu", work, feed.Environment);
        Assert.True(code == 0, output);
        var run = Assert.Single(Directory.GetDirectories(Path.Combine(work, "runs"), "tiny-*"));
        foreach (var file in new[] { "weights.safetensors", "metrics.csv", "curves.png" })
            Assert.True(File.Exists(Path.Combine(run, file)), $"{file} missing from {run}:\n{output}");
    }

    void Dotnet(string args, string workdir)
    {
        var (code, output) = Processes.Run("dotnet", args, workdir, feed.Environment);
        Assert.True(code == 0, $"dotnet {args} in {workdir}:\n{output}");
    }

    /// <summary>The first test image of the shipped Fashion-MNIST subset (an ankle boot), read straight from its IDX
    /// file: a 16-byte header, then 28x28 grey bytes per image.</summary>
    static Image FirstTestImage()
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(TestData.Root, "fashion-mnist", "t10k-images-idx3-ubyte.gz")), CompressionMode.Decompress);
        var bytes = new byte[16 + 28 * 28];
        gz.ReadExactly(bytes);
        return new Image(28, 28, 1, bytes[16..]);
    }
}
