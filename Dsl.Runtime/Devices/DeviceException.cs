namespace Dsl.Runtime;

/// <summary>A device is missing, failed, or ran out of memory; the message says what to do.</summary>
public sealed class DeviceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A data set is missing, unreadable or does not fit the model; the message says how to fix it.</summary>
public sealed class DataException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A file or folder could not be written (read-only, full, not a folder); the message names the path, and the
/// file it would have replaced is left as it was.</summary>
public sealed class OutputException(string message, Exception? inner = null) : Exception(message, inner);
