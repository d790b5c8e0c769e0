namespace Dsl.Runtime;

/// <summary>An ONNX file `dsl import` cannot turn into a model file: unreadable, or holding what the language has no
/// layer for. The message is the whole explanation (what, where, what to do); nothing has been written.</summary>
public sealed class OnnxImportException(string message) : Exception(message);
