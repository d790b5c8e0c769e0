using Dsl.Compiler;
using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>A network as written (a model file, model text, or a <see cref="NetworkBuilder"/>), with every shape inferred.
/// It holds no device memory; <see cref="Compile"/> makes a trainable <see cref="CompiledNetwork"/> on a device.</summary>
public sealed class ModelDefinition
{
    internal ModelDefinition(Shapes.Inferred inferred) => Inferred = inferred;

    /// <summary>The compiler's view: layers with names, shapes, parameter counts and multiply-adds.</summary>
    public Shapes.Inferred Inferred { get; }

    public string Name => Inferred.Network.Name;
    public long Parameters => Inferred.TotalParams;
    public long MultiplyAdds => Inferred.TotalMultiplyAdds;

    /// <summary>Reads a model file. <paramref name="classes"/> resolves `classes` where the data set does not.</summary>
    /// <exception cref="ModelFileException">The file is malformed; the exception says where.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    public static ModelDefinition Load(string path, int? classes = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Located(classes, () => Frontend.compileFile(path, Opt(classes)).Item1, () => System.IO.File.Exists(path) ? System.IO.File.ReadAllText(path) : "");
    }

    /// <summary>Reads model text; <paramref name="name"/> stands for the file in error messages.</summary>
    /// <exception cref="ModelFileException">The text is malformed; the exception says where.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> or <paramref name="name"/> is null.</exception>
    public static ModelDefinition Parse(string text, string name = "model", int? classes = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(name);
        return Located(classes, () => Frontend.compileText(name, Opt(classes), text), () => text);
    }

    /// <summary>A network built in code (F# combinators or <see cref="NetworkBuilder"/>).</summary>
    public static ModelDefinition FromNetwork(Dsl.Core.Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return Located(null, () => Shapes.infer(network), () => "");
    }

    /// <summary>Allocates the network's parameters on <paramref name="device"/> and initialises them.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    public CompiledNetwork Compile(IDevice device, TrainOptions? options = null) =>
        new(this, device, options ?? new TrainOptions { OutputDirectory = System.IO.Path.Combine("runs", $"{Name}-{DateTime.Now:yyyyMMdd-HHmmss}") });

    static Microsoft.FSharp.Core.FSharpOption<int>? Opt(int? v) => v is int i ? Microsoft.FSharp.Core.FSharpOption<int>.Some(i) : null;

    static ModelDefinition Located(int? classes, Func<Shapes.Inferred> compile, Func<string> source)
    {
        if (classes is < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "a network tells apart at least one class");
        try { return new ModelDefinition(compile()); }
        catch (ModelFileError e) when (e.Data0.Length > 0)
        {
            throw new ModelFileException(e.Data0.Head, Frontend.renderErrors(source(), e.Data0));
        }
    }
}
