namespace Dsl.Runtime.Data;

/// <summary>Labelled images kept as bytes (N x C x H x W, 0..255): a tenth of the memory of floats,
/// converted, resized and augmented batch by batch.</summary>
public sealed class ImageSet
{
    public ImageSet(byte[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        if (pixels.Length != (long)labels.Length * channels * height * width)
            throw new DataException($"image data holds {pixels.Length} bytes, expected {labels.Length} images of {channels}x{height}x{width}");
        Pixels = pixels;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassNames = classNames;
    }

    public byte[] Pixels { get; }
    public int[] Labels { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int Count => Labels.Length;
    public int Classes => ClassNames.Count;
    public int ImageBytes => Channels * Height * Width;

    public ReadOnlySpan<byte> Image(int i) => Pixels.AsSpan(i * ImageBytes, ImageBytes);

    /// <summary>The images at <paramref name="indices"/>, as a new set.</summary>
    public ImageSet Subset(IReadOnlyList<int> indices)
    {
        var pixels = new byte[(long)indices.Count * ImageBytes];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageBytes));
            labels[i] = Labels[indices[i]];
        }
        return new ImageSet(pixels, labels, Channels, Height, Width, ClassNames);
    }

    /// <summary>Splits off a validation fraction, stratified by nothing but a seeded shuffle.</summary>
    public (ImageSet train, ImageSet validation) Split(double validation, int seed)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(Seeds.Int(seed, 0x5917)).Shuffle(order);
        int v = (int)Math.Round(Count * validation);
        return (Subset(order[v..]), Subset(order[..v]));
    }

    /// <summary>The first <paramref name="n"/> images of a seeded shuffle: a smaller set with every class in it.</summary>
    public ImageSet Take(int n, int seed)
    {
        if (n >= Count) return this;
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(Seeds.Int(seed, 0x5eed)).Shuffle(order);
        return Subset(order[..n]);
    }
}
