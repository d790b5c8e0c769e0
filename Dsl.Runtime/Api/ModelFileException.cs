using Dsl.Core;

namespace Dsl.Runtime;

/// <summary>A model file (or model text) is malformed: where, what, and how to fix it.</summary>
public sealed class ModelFileException : Exception
{
    internal ModelFileException(ModelError error, string rendered) : base(rendered)
    {
        File = error.Pos.File;
        Line = error.Pos.Line;
        Column = error.Pos.Col;
        Problem = error.Message;
        Hint = error.Hint?.Value;
    }

    public string File { get; }
    public int Line { get; }
    public int Column { get; }
    /// <summary>The message without location or caret.</summary>
    public string Problem { get; }
    public string? Hint { get; }
}
