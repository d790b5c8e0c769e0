/// A run started with stdout or stderr closed (`>&-`, `2>&-`, a daemon without a terminal) must still train: its
/// record is the run folder. Writing to a closed descriptor throws, and the second throw aborted the process (134).
module Dsl.Cli.StandardStreams

open System
open System.IO
open System.Runtime.InteropServices

[<DllImport("libc", SetLastError = true)>]
extern int fcntl(int fd, int cmd, int arg)

let private F_GETFL = 3
let private O_ACCMODE = 3
let private O_RDONLY = 0

/// Closed, or taken by a file the runtime opened read-only in the free slot: not a stream to write to.
let private unusable (fd: int) =
    let flags = fcntl (fd, F_GETFL, 0)
    flags < 0 || flags &&& O_ACCMODE = O_RDONLY

/// Sends the output of a closed stdout or stderr nowhere. Call first, before anything writes or asks about the console.
let guard () =
    if not (OperatingSystem.IsWindows()) then
        if unusable 1 then Console.SetOut TextWriter.Null
        if unusable 2 then Console.SetError TextWriter.Null
