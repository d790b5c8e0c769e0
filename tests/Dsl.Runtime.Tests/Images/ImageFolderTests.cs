using Dsl.Core;
using Dsl.Runtime.Cpu;
using Dsl.Runtime.Data;
using Dsl.Runtime.Images;
using SkiaSharp;
using Xunit;

namespace Dsl.Runtime.Tests.Images;

public class ImageFolderTests
{
    /// <summary>A solid image of one grey level, any size and channel count.</summary>
    static byte[] SolidPng(int width, int height, int channels, byte level) =>
        new Image(width, height, channels, Enumerable.Repeat(level, width * height * channels).ToArray()).ToPng();

    /// <summary>Two classes (listed out of order on purpose) with good images of every format and three bad files.</summary>
    static string MixedFolder()
    {
        var root = TestFiles.TempDir();
        var cats = Directory.CreateDirectory(Path.Combine(root, "cats")).FullName;
        var ants = Directory.CreateDirectory(Path.Combine(root, "ants")).FullName;
        File.WriteAllBytes(Path.Combine(cats, "wide.png"), SolidPng(30, 10, 3, 200));
        File.WriteAllBytes(Path.Combine(cats, "grey-alpha.png"), SolidPng(5, 9, 2, 200));
        Directory.CreateDirectory(Path.Combine(cats, "nested"));
        File.WriteAllBytes(Path.Combine(cats, "nested", "deep.png"), SolidPng(8, 8, 1, 200));
        File.WriteAllBytes(Path.Combine(ants, "tall.png"), SolidPng(6, 20, 4, 40));
        foreach (var (name, data) in new[] { ("photo.jpg", "colour.jpg"), ("photo.webp", "lossy.webp"), ("anim.gif", "frames.gif"), ("scan.bmp", "rgb24.bmp") })
            File.WriteAllBytes(Path.Combine(ants, name), File.ReadAllBytes(TestFiles.Data(data)));
        var good = SolidPng(12, 12, 3, 40);
        File.WriteAllBytes(Path.Combine(ants, "truncated.png"), good[..(good.Length / 2)]);
        File.WriteAllBytes(Path.Combine(ants, "empty.png"), []);
        File.WriteAllText(Path.Combine(cats, "notes.txt"), "not an image");
        File.WriteAllText(Path.Combine(cats, ".DS_Store"), "hidden, ignored");
        Directory.CreateDirectory(Path.Combine(root, ".ipynb_checkpoints"));
        return root;
    }

    [Fact]
    public void LoadsTheGoodImagesAndListsTheRest()
    {
        var root = MixedFolder();
        var (set, skipped) = ImageFolder.Load(root, channels: 3, side: 16);
        Assert.Equal(["ants", "cats"], set.ClassNames);
        Assert.Equal(8, set.Count);
        Assert.Equal((3, 16, 16), (set.Channels, set.Height, set.Width));
        // ants in path order: anim.gif, photo.jpg, photo.webp, scan.bmp, tall.png; then the three cats.
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1], set.Labels);
        // Solid images stay solid through conversion, resizing and cropping: the ant tall.png is 40, cats 200.
        for (int i = 4; i < set.Count; i++)
            Assert.All(set.Image(i).ToArray(), p => Assert.Equal(set.Labels[i] == 0 ? 40 : 200, p));

        var reasons = skipped.ToDictionary(s => Path.GetFileName(s.Path), s => s.Reason);
        Assert.Equal(["empty.png", "notes.txt", "truncated.png"], reasons.Keys.Order());
        Assert.Equal("the file is empty", reasons["empty.png"]);
        Assert.Equal("not a PNG, JPEG, WebP, GIF or BMP image", reasons["notes.txt"]);
        Assert.True(reasons["truncated.png"].Contains("truncated") || reasons["truncated.png"].Contains("ends"), reasons["truncated.png"]);
    }

    [Fact]
    public void GreyOutputAndThePlanarLayout()
    {
        var root = TestFiles.TempDir();
        var dir = Directory.CreateDirectory(Path.Combine(root, "a")).FullName;
        // RGB 2x2: red, green / blue, white; kept at its size it is stored grey by luma, row by row.
        File.WriteAllBytes(Path.Combine(dir, "a.png"), new Image(2, 2, 3, [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]).ToPng());
        File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(Path.Combine(root, "b")).FullName, "b.png"), SolidPng(2, 2, 1, 0));
        var (set, _) = ImageFolder.Load(root, channels: 1, side: 2);
        Assert.Equal(new byte[] { 76, 150, 29, 255 }, set.Image(0).ToArray());
        var (rgb, _) = ImageFolder.Load(root, channels: 3, side: 2);
        Assert.Equal(new byte[] { 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255 }, rgb.Image(0).ToArray());
    }

    [Fact]
    public void AFolderWithoutClassFoldersOrImagesSaysWhatIsWrong()
    {
        var missing = Path.Combine(TestFiles.TempDir(), "nowhere");
        Assert.Contains("does not exist", Assert.Throws<DataException>(() => ImageFolder.Load(missing, 3, 8)).Message);
        var flat = TestFiles.TempDir();
        File.WriteAllBytes(Path.Combine(flat, "a.png"), SolidPng(4, 4, 1, 0));
        Assert.Contains("no class sub-folders", Assert.Throws<DataException>(() => ImageFolder.Load(flat, 3, 8)).Message);
        var junk = TestFiles.TempDir();
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(junk, "x")).FullName, "a.png"), "text");
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(junk, "y")).FullName, "b.png"), "text");
        Assert.Contains("none of the 2 files", Assert.Throws<DataException>(() => ImageFolder.Load(junk, 3, 8)).Message);
    }

    [Fact]
    public void AFolderWithoutATestSplitHoldsOutTheValidationFraction()
    {
        var root = TestFiles.TempDir();
        for (int c = 0; c < 2; c++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, $"class{c}")).FullName;
            for (int i = 0; i < 20; i++) File.WriteAllBytes(Path.Combine(dir, $"{i}.png"), SolidPng(4, 4, 1, (byte)(c * 100 + i)));
        }
        var (train, test, skipped) = ImageFolder.LoadSplit(root, 1, 4, 0.25, seed: 3);
        Assert.Equal((30, 10), (train.Count, test.Count));
        Assert.Empty(skipped);
        // Every image lands in exactly one of the two.
        var levels = Enumerable.Range(0, train.Count).Select(i => train.Image(i)[0])
            .Concat(Enumerable.Range(0, test.Count).Select(i => test.Image(i)[0])).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 20).Concat(Enumerable.Range(100, 20)).Select(v => (byte)v), levels);
    }

    [Fact]
    public void TrainAndTestSubFoldersAreUsedAsTheSplit()
    {
        var root = TestFiles.TempDir();
        foreach (var (split, n) in new[] { ("train", 3), ("val", 2) })
            foreach (var cls in new[] { "a", "b" })
            {
                var dir = Directory.CreateDirectory(Path.Combine(root, split, cls)).FullName;
                for (int i = 0; i < n; i++) File.WriteAllBytes(Path.Combine(dir, $"{i}.png"), SolidPng(4, 4, 1, 9));
            }
        var (train, test, _) = ImageFolder.LoadSplit(root, 1, 4, 0.1, seed: 1);
        Assert.Equal((6, 4), (train.Count, test.Count));
        Assert.Equal(["a", "b"], test.ClassNames);
    }

    [Fact]
    public void DataSourcesReadsAFolderAtTheNetworksInputAndReportsSkippedFiles()
    {
        var root = MixedFolder();
        var skipped = new List<SkippedFile>();
        var (train, test) = DataSources.Load(DataSource.NewImageFolder(root), Shape.NewChw(1, 12, 12), 1, spec: null, skipped: skipped.Add);
        Assert.Equal((1, 12, 12), (train.Channels, train.Height, train.Width));
        Assert.Equal(8, train.Count + test.Count);
        Assert.Equal(3, skipped.Count);
        var spec = new DataSpec(DataSource.NewImageFolder(root), resize: Microsoft.FSharp.Core.FSharpOption<int>.Some(20), channels: null, validation: 0.5);
        var (resized, _) = DataSources.Load(spec.Source, Shape.NewChw(3, 12, 12), 1, spec);
        Assert.Equal((3, 20, 20), (resized.Channels, resized.Height, resized.Width));
    }

    /// <summary>Stripes, across or down, with noise, in the format asked for, encoded by Skia.</summary>
    static byte[] Striped(SKEncodedImageFormat format, bool across, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[20 * 20 * 4];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
                for (int c = 0; c < 4; c++)
                    pixels[(y * 20 + x) * 4 + c] = c == 3 ? (byte)255 : (byte)Math.Clamp(((across ? y : x) / 2 % 2 == 0 ? 40 : 210) + rng.Next(-30, 31), 0, 255);
        using var image = SKImage.FromPixelCopy(new SKImageInfo(20, 20, SKColorType.Rgba8888, SKAlphaType.Unpremul), pixels);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }

    [Fact]
    public void AFolderMixingEveryFormatTrains()
    {
        // Two classes, stripes across and stripes down, each with PNG, JPEG and WebP files; the GIF and BMP samples
        // join the first.
        var root = TestFiles.TempDir();
        var formats = new[] { (SKEncodedImageFormat.Png, "png"), (SKEncodedImageFormat.Jpeg, "jpg"), (SKEncodedImageFormat.Webp, "webp") };
        foreach (var (cls, across) in new[] { ("across", true), ("down", false) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, cls)).FullName;
            for (int i = 0; i < 30; i++)
            {
                var (format, extension) = formats[i % 3];
                File.WriteAllBytes(Path.Combine(dir, $"{i}.{extension}"), Striped(format, across, seed: i + (across ? 100 : 0)));
            }
        }
        File.Copy(TestFiles.Data("frames.gif"), Path.Combine(root, "across", "frames.gif"));
        File.Copy(TestFiles.Data("rgb24.bmp"), Path.Combine(root, "across", "rgb24.bmp"));
        var model = ModelDefinition.Parse($"""
            network mixed
              input 3 x 16 x 16
              conv 4 kernel 3 |> relu
              maxpool 2
              flatten
              dense classes
              softmax
            train
              data folder "{root}" validation 0.25
              optimizer adam lr 0.01
              epochs 20
            """, classes: 2);
        using var device = new CpuDevice();
        using var net = model.Compile(device, new TrainOptions { OutputDirectory = TestFiles.TempDir(), Batch = 8 });
        var result = net.Train();
        Assert.Equal(20, result.Epochs.Count);
        // 62 images, about a quarter held out; the stripes tell the classes apart whatever the format.
        Assert.InRange(result.Test!.Count, 12, 20);
        Assert.True(result.Test!.Accuracy >= 0.9, $"accuracy {result.Test!.Accuracy} " + string.Join("; ", result.Epochs));
    }
}
