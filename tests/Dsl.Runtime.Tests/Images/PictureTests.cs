using System.Xml.Linq;
using Dsl.Runtime.Images;
using Dsl.Runtime.Output;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

public class PictureTests
{
    static string RunFolder()
    {
        var dir = TestFiles.TempDir();
        File.WriteAllText(Path.Combine(dir, "metrics.csv"),
            "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds\n" +
            "1,2.1,0.31,1.9,0.35,0.8,0.01,3.2\n" +
            "2,1.4,0.52,NaN,NaN,NaN,0.01,3.1\n" +
            "3,0.9,0.71,1.1,0.66,0.93,0.001,3.0\n");
        return dir;
    }

    [Fact]
    public void WritesTheFourPicturesAsValidFiles()
    {
        var dir = RunFolder();
        var weights = Enumerable.Range(0, 8 * 3 * 5 * 5).Select(i => MathF.Sin(i)).ToArray();
        var confusion = new int[4, 4] { { 50, 2, 0, 1 }, { 3, 40, 5, 0 }, { 0, 0, 61, 9 }, { 1234, 0, 0, 7 } };
        var written = RunPictures.Write(dir, filterWeights: weights, filterShape: [8, 3, 5, 5], confusion: confusion,
            classNames: ["cat", "dog", "a very long class name indeed", "bird"]);
        Assert.Equal(["curves.png", "curves.svg", "filters.png", "confusion.png"], written.Select(Path.GetFileName));

        var sizes = new Dictionary<string, (int, int)>();
        foreach (var name in new[] { "curves.png", "filters.png", "confusion.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir, name));
            var (w, h, depth, _) = TestFiles.CheckPng(bytes);
            Assert.Equal(8, depth);
            var image = Image.Decode(bytes, name);
            Assert.Equal((w, h), (image.Width, image.Height));
            sizes[name] = (w, h);
        }
        Assert.Equal((Curves.Width, Curves.Height), sizes["curves.png"]);
        // 8 filters of 5x5 enlarged 7 times to 35 pixels, 4 columns by 2 rows, 2-pixel gaps.
        Assert.Equal((2 + 4 * 37, 2 + 2 * 37), sizes["filters.png"]);

        var texts = SvgTexts(Path.Combine(dir, "curves.svg"));
        Assert.Contains("epoch", texts);
        // The legend gives each line's last value; the learning rate fell from 0.01 to 0.001 at epoch 3.
        Assert.Contains("validation 66.0%", texts);
        Assert.Contains("training 0.900", texts);
        Assert.Contains("lr 0.001", texts);
        Assert.Contains("loss", texts);
        Assert.DoesNotContain("loss (log scale)", texts);
    }

    /// <summary>The text an SVG shows, one string per text element (Skia writes a run of glyphs as one element).</summary>
    static string[] SvgTexts(string path)
    {
        XNamespace ns = "http://www.w3.org/2000/svg";
        return XDocument.Load(path).Descendants(ns + "text").Select(t => t.Value.Trim()).ToArray();
    }

    [Fact]
    public void ALossSpanningDecadesIsDrawnOnALogScale()
    {
        var dir = TestFiles.TempDir();
        var csv = Path.Combine(dir, "metrics.csv");
        File.WriteAllText(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds\n" +
            string.Concat(Enumerable.Range(1, 6).Select(e => $"{e},{2.3 / Math.Pow(3, e - 1)},{0.5 + e * 0.08},,,,0.01,1\n")));
        RunPictures.Write(dir);
        var texts = SvgTexts(Path.Combine(dir, "curves.svg"));
        Assert.Contains("loss (log scale)", texts);
        // 2.3 down to 2.3 / 243: the decades 1 and 0.1 are labelled (and 0.01, if the axis reaches it).
        Assert.Contains("1", texts);
        Assert.Contains("0.1", texts);
        Assert.DoesNotContain(texts, t => t.StartsWith("lr "));
    }

    [Fact]
    public void EachFilterIsStretchedOverItsOwnRange()
    {
        // Two grey 2x2 filters with very different scales both reach black and white.
        var grid = Filters.Draw([0, 1, 2, 3, -100, 0, 0, 100], [2, 1, 2, 2]);
        int zoom = 16;
        byte At(int filter, int y, int x) => grid.Pixels[((2 + y * zoom) * grid.Width + 2 + filter * (2 * zoom + 2) + x * zoom) * 3];
        Assert.Equal((0, 85, 170, 255), (At(0, 0, 0), At(0, 0, 1), At(0, 1, 0), At(0, 1, 1)));
        Assert.Equal((0, 255), (At(1, 0, 0), At(1, 1, 1)));
        Assert.InRange(At(1, 0, 1), 127, 128);
    }

    [Fact]
    public void MetricsAreReadByColumnName()
    {
        var path = Path.Combine(TestFiles.TempDir(), "m.csv");
        File.WriteAllText(path, "val_accuracy,epoch,val_loss,train_accuracy,train_loss\n0.5,1,,0.25,2.5\n");
        var row = Assert.Single(Curves.Read(path));
        Assert.Equal((1, 2.5, 0.25, 0.5), (row.Epoch, row.TrainLoss, row.TrainAccuracy, row.ValAccuracy));
        Assert.True(double.IsNaN(row.ValLoss));
        File.WriteAllText(path, "epoch,train_loss\n1,2\n");
        Assert.Contains("no train_accuracy column", Assert.Throws<DataException>(() => Curves.Read(path)).Message);
    }

    [Fact]
    public void AnEmptyRunWritesNoCurves()
    {
        var dir = TestFiles.TempDir();
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,learning_rate,seconds\n");
        Assert.Empty(RunPictures.Write(dir));
    }
}
