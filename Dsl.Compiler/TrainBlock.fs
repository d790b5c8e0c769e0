/// Validates the `train` block's lines into a typed TrainConfig. Unknown keys and values are located errors.
module Dsl.Compiler.TrainBlock

open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler.Diagnostics

let private show (t: TrainToken) =
    match t with
    | TWord (w, _) -> sprintf "`%s`" w
    | TNum (v, _, _) -> sprintf "`%g`" v
    | TStr (s, _) -> sprintf "\"%s\"" s
    | TComma _ -> "`,`"

/// A complete line for each key, for hints where a value is missing and for completion in an editor.
let examples =
    Map [ "data", "data fashion-mnist validation 0.1"
          "augment", "augment crop 28 from 32, flip horizontal"
          "normalize", "normalize mean-std"
          "batch", "batch 64"
          "optimizer", "optimizer sgd lr 0.01 momentum 0.9"
          "schedule", "schedule step every 30 factor 0.1"
          "stop-early", "stop-early monitor val-loss patience 10"
          "checkpoint", "checkpoint every epoch"
          "epochs", "epochs 10"
          "seed", "seed 1"
          "order", "order shuffle"
          "init", "init he from \"pretrained.safetensors\""
          "freeze", "freeze conv1 to conv5"
          "lr-mult", "lr-mult dense3 10"
          "decay-mult", "decay-mult dense3 0"
          "class-weights", "class-weights balanced" ]

/// Raised by a completing cursor where the line runs out: the words that could come next.
exception private Expected of string list

/// A cursor over one entry's tokens. A completing cursor reads a line that is still being typed: where the
/// validator would ask for a word or an option past the last token, it raises Expected with the choices, so that
/// completion in an editor offers exactly what validation accepts.
/// A usual value of an optimiser or schedule number, for hints.
let private typical =
    function
    | "momentum" | "beta1" -> "0.9"
    | "beta2" -> "0.999"
    | "rho" -> "0.99"
    | "eps" -> "1e-8"
    | "weight-decay" -> "5e-4"
    | "lr" -> "0.01"
    | "gamma" -> "0.95"
    | _ -> "0.1"

type private Cursor(entry: TrainEntry, completing: bool) =
    let mutable rest = entry.Tokens
    member _.Done = rest.IsEmpty
    member _.Peek = List.tryHead rest
    member _.Here = match rest with t :: _ -> t.Pos | [] -> entry.Pos
    member c.Fail(msg, hint: string) = errorHint c.Here msg hint
    member c.Next(what: string) =
        match rest with
        | t :: tail -> rest <- tail; t
        | [] when completing -> raise (Expected [])
        | [] ->
            let message = if what = entry.Key then sprintf "`%s` needs a value" what else sprintf "%s: %s is missing at the end of the line" entry.Key what
            let hint = examples.TryFind entry.Key |> Option.map (sprintf "write e.g. `%s`") |> Option.defaultValue "the line ends too early"
            errorHint entry.Pos message hint
    member c.Word(what: string, choices: string list) =
        if completing && rest.IsEmpty then raise (Expected choices)
        match c.Next what with
        | TWord (w, _) when List.contains w choices -> w
        | TWord (w, p) -> errorHint p (sprintf "%s: unknown %s `%s`" entry.Key what w) (suggestion choices w)
        | t -> errorHint t.Pos (sprintf "%s: expected %s, got %s" entry.Key what (show t)) (sprintf "one of: %s" (String.concat ", " choices))
    member c.Float(what: string) =
        match c.Next what with
        | TNum (v, _, p) when not (System.Double.IsFinite v) -> errorHint p (sprintf "%s: %s is too large" entry.Key what) (sprintf "write e.g. `%s 0.1`" what)
        | TNum (v, _, _) -> v
        | t -> errorHint t.Pos (sprintf "%s: %s must be a number, got %s" entry.Key what (show t)) (sprintf "write e.g. `%s 0.1`" what)
    member c.Positive(what: string) =
        let p = c.Here
        let v = c.Float what
        if v <= 0.0 then errorHint p (sprintf "%s: %s must be positive, got %g" entry.Key what v) (sprintf "write e.g. `%s %s`" what (typical what)) else v
    /// Weight decay, a floor of the learning rate: zero turns them off, below zero they push the wrong way.
    member c.NonNegative(what: string) =
        let p = c.Here
        let v = c.Float what
        if v < 0.0 then errorHint p (sprintf "%s: %s must not be negative, got %g" entry.Key what v) (sprintf "write e.g. `%s %s`, or 0 for none" what (typical what)) else v
    /// Momentum and the averaging rates: a fraction of the past kept each step; at 1 or more the steps grow without end.
    member c.Fraction(what: string) =
        let p = c.Here
        let v = c.Float what
        if v < 0.0 || v >= 1.0 then errorHint p (sprintf "%s: %s is a fraction in [0, 1), got %g" entry.Key what v) (sprintf "write e.g. `%s %s`" what (typical what)) else v
    member c.Int(what: string, min: int) =
        match c.Next what with
        | TNum (v, true, p) when v >= float min && v <= float System.Int32.MaxValue -> int v
        | TNum (v, true, p) when v > float System.Int32.MaxValue ->
            errorHint p (sprintf "%s: %s is too large, got %.0f" entry.Key what v) (sprintf "at most %d" System.Int32.MaxValue)
        | TNum (v, true, p) -> errorHint p (sprintf "%s: %s must be at least %d, got %.0f" entry.Key what min v) (sprintf "write `%d` or more" min)
        | t -> errorHint t.Pos (sprintf "%s: %s must be a whole number, got %s" entry.Key what (show t)) (sprintf "write e.g. `%s 10`" what)
    member c.Str(what: string) =
        match c.Next what with
        | TStr (s, _) -> s
        | t -> errorHint t.Pos (sprintf "%s: %s must be a quoted path, got %s" entry.Key what (show t)) "write e.g. \"images/train\""
    /// Reads `name value` options in any order until the line ends or a comma.
    member c.Options(spec: (string * (unit -> unit)) list) =
        let seen = System.Collections.Generic.HashSet<string>()
        let mutable stop = false
        while not stop do
            match rest with
            | [] when completing -> raise (Expected(spec |> List.map fst |> List.filter (seen.Contains >> not)))
            | [] | TComma _ :: _ -> stop <- true
            | TWord (w, p) :: tail when List.exists (fst >> (=) w) spec ->
                if not (seen.Add w) then errorHint p (sprintf "%s: `%s` is given twice" entry.Key w) "keep one"
                rest <- tail
                (spec |> List.find (fst >> (=) w) |> snd) ()
            | TWord (w, p) :: _ -> errorHint p (sprintf "%s: unknown option `%s`" entry.Key w) (suggestion (List.map fst spec) w)
            | t :: _ -> errorHint t.Pos (sprintf "%s: unexpected %s" entry.Key (show t)) (sprintf "options here: %s" (spec |> List.map fst |> String.concat ", "))
    member c.End() =
        match rest with
        | [] -> ()
        | t :: _ -> errorHint t.Pos (sprintf "%s: unexpected %s at the end of the line" entry.Key (show t)) "remove it"

let private monitor (c: Cursor) =
    match c.Word("monitor", [ "val-loss"; "val-accuracy"; "loss" ]) with
    | "val-loss" -> ValLoss
    | "val-accuracy" -> ValAccuracy
    | _ -> TrainLoss

let private data (c: Cursor) =
    let source =
        match c.Word("data set", [ "fashion-mnist"; "mnist"; "cifar10"; "cifar100"; "folder"; "synthetic" ]) with
        | "fashion-mnist" -> FashionMnist
        | "mnist" -> Mnist
        | "cifar10" -> Cifar10
        | "cifar100" -> Cifar100
        | "folder" -> ImageFolder(c.Str "folder")
        | _ -> Synthetic(c.Int("classes", 2))
    let mutable spec = { Source = source; Resize = None; Channels = None; Validation = 0.1 }
    c.Options
        [ "resize", (fun () -> spec <- { spec with Resize = Some(c.Int("resize", 1)) })
          "channels", (fun () -> spec <- { spec with Channels = Some(c.Int("channels", 1)) })
          "validation", (fun () ->
              let p = c.Here
              let v = c.Float "validation"
              if v < 0.0 || v >= 1.0 then errorHint p (sprintf "data: validation is a fraction in [0, 1), got %g" v) "write e.g. `validation 0.1`"
              spec <- { spec with Validation = v }) ]
    spec

let private augment (c: Cursor) =
    let one () =
        match c.Word("augmentation", [ "crop"; "flip"; "brightness"; "contrast"; "rotate"; "translate" ]) with
        | "crop" ->
            let size = c.Int("crop size", 1)
            match c.Peek with
            | Some (TWord ("from", _)) -> c.Next "from" |> ignore; Crop(size, c.Int("from", size))
            | _ -> Crop(size, size)
        | "flip" -> if c.Word("flip direction", [ "horizontal"; "vertical" ]) = "horizontal" then FlipHorizontal else FlipVertical
        | "brightness" -> Brightness(c.Positive "brightness")
        | "rotate" -> Rotate(c.Positive "rotate")
        | "translate" -> Translate(c.Int("translate", 1))
        | _ -> Contrast(c.Positive "contrast")
    let rec items acc =
        let acc = one () :: acc
        match c.Peek with
        | Some (TComma _) -> c.Next "," |> ignore; items acc
        | _ -> List.rev acc
    items []

let private optimizer (c: Cursor) =
    match c.Word("optimizer", [ "sgd"; "adam"; "rmsprop" ]) with
    | "sgd" ->
        let mutable lr, mom, nest, wd = 0.01, 0.0, false, 0.0
        c.Options [ "lr", (fun () -> lr <- c.Positive "lr"); "momentum", (fun () -> mom <- c.Fraction "momentum")
                    "nesterov", (fun () -> nest <- true); "weight-decay", (fun () -> wd <- c.NonNegative "weight-decay") ]
        if nest && mom = 0.0 then c.Fail("optimizer: nesterov needs momentum", "add e.g. `momentum 0.9`")
        Sgd(lr, mom, nest, wd)
    | "adam" ->
        let mutable lr, b1, b2, eps, wd = 0.001, 0.9, 0.999, 1e-8, 0.0
        c.Options [ "lr", (fun () -> lr <- c.Positive "lr"); "beta1", (fun () -> b1 <- c.Fraction "beta1"); "beta2", (fun () -> b2 <- c.Fraction "beta2")
                    "eps", (fun () -> eps <- c.Positive "eps"); "weight-decay", (fun () -> wd <- c.NonNegative "weight-decay") ]
        Adam(lr, b1, b2, eps, wd)
    | _ ->
        let mutable lr, rho, eps, mom, wd = 0.01, 0.99, 1e-8, 0.0, 0.0
        c.Options [ "lr", (fun () -> lr <- c.Positive "lr"); "rho", (fun () -> rho <- c.Fraction "rho"); "eps", (fun () -> eps <- c.Positive "eps")
                    "momentum", (fun () -> mom <- c.Fraction "momentum"); "weight-decay", (fun () -> wd <- c.NonNegative "weight-decay") ]
        RmsProp(lr, rho, eps, mom, wd)

let private schedule (c: Cursor) =
    match c.Word("schedule", [ "constant"; "step"; "exponential"; "cosine"; "reduce-on-plateau" ]) with
    | "constant" -> Constant
    | "step" ->
        let mutable every, factor = 30, 0.1
        c.Options [ "every", (fun () -> every <- c.Int("every", 1)); "factor", (fun () -> factor <- c.Positive "factor") ]
        StepDecay(every, factor)
    | "exponential" ->
        let mutable gamma = 0.95
        c.Options [ "gamma", (fun () -> gamma <- c.Positive "gamma") ]
        Exponential gamma
    | "cosine" ->
        let mutable minLr = 0.0
        c.Options [ "min-lr", (fun () -> minLr <- c.NonNegative "min-lr") ]
        Cosine minLr
    | _ ->
        let mutable m, factor, patience, minLr = ValLoss, 0.1, 10, 0.0
        c.Options [ "monitor", (fun () -> m <- monitor c); "factor", (fun () -> factor <- c.Positive "factor")
                    "patience", (fun () -> patience <- c.Int("patience", 0)); "min-lr", (fun () -> minLr <- c.NonNegative "min-lr") ]
        if factor >= 1.0 then c.Fail(sprintf "schedule: reduce-on-plateau factor must be below 1, got %g" factor, "0.1 divides the learning rate by 10")
        ReduceOnPlateau(m, factor, patience, minLr)

let private basics: (string * (Cursor -> TrainConfig -> TrainConfig)) list =
    [ "data", fun c t -> { t with Data = Some(data c) }
      "augment", fun c t -> { t with Augment = augment c }
      "normalize", fun c t ->
          { t with Normalize = match c.Word("normalisation", [ "none"; "mean"; "mean-std" ]) with "none" -> NoNormalization | "mean" -> MeanOnly | _ -> MeanStd }
      "batch", fun c t -> { t with Batch = c.Int("batch", 1) }
      "optimizer", fun c t -> { t with Optimizer = optimizer c }
      "schedule", fun c t -> { t with Schedule = schedule c }
      "stop-early", fun c t ->
          let mutable s = { Monitor = ValLoss; Patience = 10; RestoreBest = false }
          c.Options [ "monitor", (fun () -> s <- { s with Monitor = monitor c }); "patience", (fun () -> s <- { s with Patience = c.Int("patience", 0) })
                      "restore-best", (fun () -> s <- { s with RestoreBest = true }) ]
          { t with StopEarly = Some s }
      "checkpoint", fun c t ->
          match c.Word("checkpoint", [ "every"; "best" ]) with
          | "best" -> { t with Checkpoint = Some BestOnly }
          | _ ->
              match c.Peek with
              | Some (TWord ("epoch", _)) -> c.Next "epoch" |> ignore; { t with Checkpoint = Some(EveryEpochs 1) }
              | _ ->
                  let n = c.Int("epochs", 1)
                  c.Word("`epochs`", [ "epochs"; "epoch" ]) |> ignore
                  { t with Checkpoint = Some(EveryEpochs n) }
      "epochs", fun c t -> { t with Epochs = c.Int("epochs", 1) }
      "seed", fun c t -> { t with Seed = c.Int("seed", 0) }
      "order", fun c t ->
          { t with Order = match c.Word("order", [ "shuffle"; "by-class"; "by-similarity"; "hybrid" ]) with
                           | "shuffle" -> Shuffle | "by-class" -> ByClass | "by-similarity" -> BySimilarity | _ -> Hybrid } ]

let private layerRange (c: Cursor) =
    let name what =
        match c.Next what with
        | TWord (w, _) -> w
        | t -> c.Fail(sprintf "expected a layer name such as conv1, got %s" (show t), "layer names are in `dsl summary`'s first column")
    let first = name "a layer name"
    match c.Peek with
    | Some (TWord ("to", _)) -> c.Next "to" |> ignore; { First = first; Last = name "the last layer of the range" }
    | _ -> { First = first; Last = first }

/// `A, B to C, ...`: comma-separated items, each read by `item`.
let private commaList (c: Cursor) item =
    let rec go acc =
        let acc = item c :: acc
        match c.Peek with
        | Some (TComma _) -> c.Next "," |> ignore; go acc
        | _ -> List.rev acc
    go []

let private multipliers (c: Cursor) = commaList c (fun c -> let r = layerRange c in r, c.Float "multiplier")

let private extra: (string * (Cursor -> TrainConfig -> TrainConfig)) list =
    [ "init", fun c t ->
          let scheme =
              match c.Peek with
              | Some (TWord ("from", _)) -> ByRole
              | _ ->
                  match c.Word("initialisation", [ "by-role"; "he"; "glorot"; "paper" ]) with
                  | "by-role" -> ByRole
                  | "he" -> He
                  | "glorot" -> Glorot
                  | _ -> PaperInit
          let from =
              match c.Peek with
              | Some (TWord ("from", _)) -> c.Next "from" |> ignore; Some(c.Str "weights file")
              | _ -> None
          { t with Init = { Scheme = scheme; From = from } }
      "freeze", fun c t -> { t with Freeze = commaList c layerRange }
      "lr-mult", fun c t -> { t with LrMult = multipliers c }
      "decay-mult", fun c t -> { t with DecayMult = multipliers c }
      "class-weights", fun c t ->
          match c.Peek with
          | Some (TWord ("balanced", _)) -> c.Next "balanced" |> ignore; { t with ClassWeights = Balanced }
          | _ -> { t with ClassWeights = Explicit(commaList c (fun c -> c.Positive "class weight")) } ]

let private entries = basics @ extra

let keys = entries |> List.map fst

/// Checks that every layer the train block names exists, at the name's position.
let checkLayerNames (lines: TrainEntry list) (names: string list) =
    for e in lines do
        if List.contains e.Key [ "freeze"; "lr-mult"; "decay-mult" ] then
            for t in e.Tokens do
                match t with
                | TWord (w, p) when w <> "to" && not (List.contains w names) ->
                    errorHint p (sprintf "%s: no layer is named `%s`" e.Key w) (suggestion names w)
                | _ -> ()

/// Reads the train block's entries in order; each key at most once.
let validate (lines: TrainEntry list) : TrainConfig =
    let seen = System.Collections.Generic.Dictionary<string, Pos>()
    lines
    |> List.fold (fun cfg e ->
        match List.tryFind (fst >> (=) e.Key) entries with
        | None -> errorHint e.Pos (sprintf "unknown train key `%s`" e.Key) (suggestion keys e.Key)
        | Some (_, read) ->
            if seen.ContainsKey e.Key then errorHint e.Pos (sprintf "`%s` is set twice (first at line %d)" e.Key seen[e.Key].Line) "keep one"
            seen[e.Key] <- e.Pos
            let c = Cursor(e, false)
            let cfg = read c cfg
            c.End()
            cfg) TrainConfig.defaults

/// The words that may follow a train-block line typed so far (its key and complete tokens): the values and
/// options validation would accept there. Empty where the key is unknown, the line is already wrong, or a number comes next.
let nextWords (e: TrainEntry) : string list =
    match List.tryFind (fst >> (=) e.Key) entries with
    | None -> []
    | Some (_, read) ->
        try
            read (Cursor(e, true)) TrainConfig.defaults |> ignore
            []
        with
        | Expected words -> words
        | ModelFileError _ -> []
