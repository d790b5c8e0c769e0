using System.Diagnostics;
using System.Text.RegularExpressions;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Dsl.Runtime.Images;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests;

/// <summary>report.html from a real run: self-contained (every picture an embedded PNG that decodes, nothing fetched), and
/// opened in headless Chromium (Debian's `chromium`, tests/setup-optional installs it) without a console message, its
/// screenshot a page of the expected size with content on it.</summary>
public class ReportPageTests(ITestOutputHelper output)
{
    const string Tiny = """
        network tiny
          input 1 x 12 x 12
          conv 4 kernel 3 |> relu
          maxpool 2
          flatten
          dense 16 |> relu
          dense classes
          softmax
        train
          optimizer adam lr 0.003
          batch     16
          epochs    3
          seed      2
        """;

    static string TrainedRunFolder()
    {
        var net = Networks.Text(Tiny, 4);
        var (train, test) = DataSources.Synthetic(4, 1, 12, 12, 320, 64, 2);
        var dir = Directory.CreateTempSubdirectory("dsl-report-").FullName;
        using var device = new CpuDevice();
        using var trainer = new Trainer(net, net.Network.Train!.Value, device, new TrainOptions { OutputDirectory = dir });
        trainer.Run(train, test);
        return dir;
    }

    [Fact]
    public void TheReportIsOneFileWithEveryPictureEmbedded()
    {
        var dir = TrainedRunFolder();
        var html = File.ReadAllText(Path.Combine(dir, Output.RunReport.Name));
        var images = Regex.Matches(html, "src=\"data:image/png;base64,([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, images.Count); // curves, confusion, filters
        Assert.All(images, b64 => Assert.True(Image.Decode(Convert.FromBase64String(b64), "report").Width > 50));
        Assert.DoesNotMatch("(src|href)=\"(?!data:)", html);
        foreach (var section in new[] { "Diagnosis", "Summary", "Settings", "Curves", "Per-layer statistics", "Classes", "Confusion matrix", "filters" })
            Assert.Contains(section, html);
        Assert.Equal(5, Regex.Matches(html, "<svg ").Count); // step loss, weight norm, gradient norm, update ratio, dead fraction
    }

    static (string stderr, bool ok) Chromium(string page, string screenshot)
    {
        var start = new ProcessStartInfo("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
            "--window-size=1200,4000", $"--screenshot={screenshot}", new Uri(page).AbsoluteUri]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        bool ok = p.WaitForExit(120_000);
        return (stderr.Result, ok && p.ExitCode == 0);
    }

    [Fact]
    public void HeadlessChromiumShowsTheReportWithoutConsoleMessages()
    {
        var chromium = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "chromium")).FirstOrDefault(File.Exists);
        if (chromium is null)
        {
            output.WriteLine("skipped: chromium is not installed; enable with: sudo apt-get install chromium");
            return;
        }
        var dir = TrainedRunFolder();
        // The check itself: a page that logs to its console is caught.
        var bad = Path.Combine(dir, "bad.html");
        File.WriteAllText(bad, "<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>");
        var (badLog, _) = Chromium(bad, Path.Combine(dir, "bad.png"));
        Assert.Contains(":CONSOLE", badLog);

        var shot = Path.Combine(dir, "report.png");
        var (log, ok) = Chromium(Path.Combine(dir, Output.RunReport.Name), shot);
        Assert.True(ok, log);
        Assert.DoesNotContain(":CONSOLE", log);
        var image = Image.Decode(File.ReadAllBytes(shot), shot);
        Assert.Equal((1200, 4000), (image.Width, image.Height));
        // A blank page is one colour; the report has text, tables, plots and pictures.
        var colours = new HashSet<int>();
        for (int i = 0; i + 2 < image.Pixels.Length; i += image.Channels) colours.Add(image.Pixels[i] << 16 | image.Pixels[i + 1] << 8 | image.Pixels[i + 2]);
        Assert.True(colours.Count > 100, $"{colours.Count} colours in {shot}");
        output.WriteLine($"screenshot: {shot}");
    }
}
