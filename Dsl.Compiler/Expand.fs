/// Expands `let` calls and `repeat` into a flat, located list of layers, checking every argument
/// against the layer's schema.
module Dsl.Compiler.Expand

open System
open Dsl.Core
open Dsl.Core.Syntax
open Dsl.Compiler.Diagnostics

type Value =
    | I of int
    | F of float
    override v.ToString() = match v with I i -> string i | F f -> string f

let private asFloat = function I i -> float i | F f -> f

/// Evaluates an argument expression. Integers stay integers (so `k / 2` rounds down), as in C.
/// Whole-number arithmetic is checked: an overflow is a located error, never a wrapped value.
let rec eval (env: Map<string, Value>) (e: Expr) : Value =
    match e with
    | Num (v, true, p) ->
        if v > float Int32.MaxValue then error p (sprintf "%.0f is too large for a whole number (at most %d)" v Int32.MaxValue) else I(int v)
    | Num (v, false, p) ->
        if Double.IsFinite v then F v else error p "this number is too large"
    | Ref (n, p) ->
        match env.TryFind n with
        | Some v -> v
        | None when n = "classes" ->
            errorHint p "the number of classes is not known here"
                "name a data set with a known class count in the train block (`data fashion-mnist`), or pass --classes N"
        | None ->
            let hint = closest (env.Keys |> Seq.filter ((<>) "classes")) n |> Option.map (sprintf "did you mean `%s`?")
            errorWith p (sprintf "unknown name `%s`" n) hint
    | Bin (op, a, b, p) ->
        let x, y = eval env a, eval env b
        if op = '/' && asFloat y = 0.0 then error p "division by zero"
        try
            match x, y, op with
            | I x, I y, '+' -> I(Checked.(+) x y)
            | I x, I y, '-' -> I(Checked.(-) x y)
            | I x, I y, '*' -> I(Checked.(*) x y)
            | I x, I y, _ -> I(x / y)
            | x, y, _ ->
                let r =
                    match op with
                    | '+' -> asFloat x + asFloat y
                    | '-' -> asFloat x - asFloat y
                    | '*' -> asFloat x * asFloat y
                    | _ -> asFloat x / asFloat y
                if Double.IsFinite r then F r else error p (sprintf "%O %c %O is too large" x op y)
        with :? ArithmeticException ->
            error p (sprintf "%O %c %O overflows a whole number (at most %d)" x op y Int32.MaxValue)

type private ArgKind =
    | IntArg
    | FloatArg
    | BoolArg
    | FlagArg

/// The arguments a layer was given, each with where it was written.
type private Args(layer: string, callPos: Pos, positional: string list, values: Map<string, Value * Pos>) =
    /// How to write a value for `k`: positional arguments have no key word before them.
    let example k (v: string) = if List.contains k positional then sprintf "%s %s" layer v else sprintf "%s %s" k v
    member _.Has k = values.ContainsKey k
    member _.PosOf k = values.TryFind k |> Option.map snd |> Option.defaultValue callPos
    member a.Int(k, dflt: int, ?min: int) =
        match values.TryFind k with
        | None -> dflt
        | Some (I v, p) ->
            match min with
            | Some m when v < m -> errorHint p (sprintf "%s %s must be at least %d, got %d" layer k m v) (sprintf "write `%s` or more" (example k (string m)))
            | _ -> v
        | Some (F v, p) ->
            let near = if abs v < 1e9 then sprintf "e.g. `%s`" (example k (string (max (defaultArg min 0) (int (Math.Floor v))))) else "a whole number"
            errorHint p (sprintf "%s %s must be a whole number, got %g" layer k v) (sprintf "write %s" near)
    member a.Float(k, dflt: float) = values.TryFind k |> Option.map (fst >> asFloat) |> Option.defaultValue dflt
    member a.Bool(k, dflt: bool) =
        match values.TryFind k with
        | None -> dflt
        | Some (I 0, _) -> false
        | Some (I 1, _) -> true
        | Some (v, p) -> errorHint p (sprintf "%s %s is on or off, got %O" layer k v) (sprintf "write `%s on` or `%s off`" k k)

type private Schema =
    { Positional: (string * ArgKind) list
      Keys: (string * ArgKind) list
      Make: Args -> Pos -> Layer }

let private rounding (a: Args) p =
    match a.Has "floor", a.Has "ceil" with
    | true, true -> errorHint (a.PosOf "ceil") "a layer rounds either down or up, not both" "keep `floor` or `ceil`"
    | true, false -> Some Floor
    | false, true -> Some Ceil
    | false, false -> None

let private pair n = (n, n)

let private poolSchema kind =
    { Positional = [ "size", IntArg ]
      Keys = [ "stride", IntArg; "pad", IntArg; "floor", FlagArg; "ceil", FlagArg ]
      Make =
        fun a p ->
            let name = match kind with MaxPool -> "maxpool" | AvgPool -> "avgpool"
            if not (a.Has "size") then errorHint p (sprintf "%s needs a window size" name) (sprintf "write e.g. `%s 2`" name)
            let size = a.Int("size", 0, 1)
            let padding = a.Int("pad", 0, 0)
            if padding > size / 2 then
                errorHint (a.PosOf "pad") (sprintf "pad %d is more than half the window %d" padding size) "a window must overlap the input; pad at most size / 2"
            Pool { Kind = kind; Size = pair size; Stride = pair (a.Int("stride", size, 1)); Pad = pair padding
                   Rounding = rounding a p |> Option.defaultValue Floor } }

let private activation act = { Positional = []; Keys = []; Make = fun _ _ -> Act act }

let private schemas: Map<string, Schema> =
    Map [
        "conv",
        { Positional = [ "filters", IntArg ]
          Keys = [ "kernel", IntArg; "stride", IntArg; "pad", IntArg; "groups", IntArg; "bias", BoolArg; "floor", FlagArg; "ceil", FlagArg ]
          Make =
            fun a p ->
                if not (a.Has "filters") then errorHint p "conv needs the number of filters" "write e.g. `conv 64 kernel 3`"
                if not (a.Has "kernel") then errorHint p "conv needs a kernel size" "add e.g. `kernel 3`"
                Conv { Filters = a.Int("filters", 0, 1); Kernel = pair (a.Int("kernel", 1, 1)); Stride = pair (a.Int("stride", 1, 1))
                       Pad = pair (a.Int("pad", 0, 0)); Groups = a.Int("groups", 1, 1); Bias = a.Bool("bias", true); Rounding = rounding a p } }
        "maxpool", poolSchema MaxPool
        "avgpool", poolSchema AvgPool
        "lrn",
        { Positional = []
          Keys = [ "size", IntArg; "alpha", FloatArg; "beta", FloatArg; "k", FloatArg ]
          Make =
            fun a _ ->
                let d = Layer.lrnDefaults
                let size = a.Int("size", d.Size, 1)
                if size % 2 = 0 then errorHint (a.PosOf "size") (sprintf "lrn size must be odd, got %d" size) "the window is centred on each channel: use 3, 5, 7..."
                let beta = a.Float("beta", d.Beta)
                if beta <= 0.0 then error (a.PosOf "beta") (sprintf "lrn beta must be positive, got %g" beta)
                let alpha = a.Float("alpha", d.Alpha)
                if alpha < 0.0 then error (a.PosOf "alpha") (sprintf "lrn alpha must not be negative, got %g" alpha)
                let k = a.Float("k", d.K)
                if k <= 0.0 then errorHint (a.PosOf "k") (sprintf "lrn k must be positive, got %g" k) "the paper uses `k 2`"
                Lrn { Size = size; Alpha = alpha; Beta = beta; K = k } }
        "dense",
        { Positional = [ "units", IntArg ]
          Keys = [ "bias", BoolArg ]
          Make =
            fun a p ->
                if not (a.Has "units") then errorHint p "dense needs the number of units" "write e.g. `dense 4096`"
                Dense { Units = a.Int("units", 0, 1); Bias = a.Bool("bias", true) } }
        "dropout",
        { Positional = [ "rate", FloatArg ]
          Keys = []
          Make =
            fun a _ ->
                let r = a.Float("rate", 0.5)
                if not (r >= 0.0 && r < 1.0) then errorHint (a.PosOf "rate") (sprintf "dropout rate must be in [0, 1), got %g" r) "0.5 drops half the units, as in AlexNet"
                Dropout r }
        "relu", activation Relu
        "tanh", activation Tanh
        "sigmoid", activation Sigmoid
        "leaky-relu", { Positional = [ "slope", FloatArg ]; Keys = []; Make = fun a _ -> Act(LeakyRelu(a.Float("slope", 0.01))) }
        "batchnorm",
        { Positional = []
          Keys = [ "eps", FloatArg; "momentum", FloatArg ]
          Make =
            fun a _ ->
                let eps = a.Float("eps", 1e-5)
                if eps <= 0.0 then errorHint (a.PosOf "eps") (sprintf "batchnorm eps must be positive, got %g" eps) "the usual value is `eps 1e-5`"
                let momentum = a.Float("momentum", 0.1)
                if not (momentum >= 0.0 && momentum <= 1.0) then
                    errorHint (a.PosOf "momentum") (sprintf "batchnorm momentum must be in [0, 1], got %g" momentum) "the usual value is `momentum 0.1`"
                BatchNorm { Eps = eps; Momentum = momentum } }
        "flatten", { Positional = []; Keys = []; Make = fun _ _ -> Flatten }
        "softmax", { Positional = []; Keys = []; Make = fun _ _ -> Softmax }
    ]

/// The built-in layer words, in the order the language reference lists them.
let layerNames = schemas.Keys |> List.ofSeq

/// A built-in layer's option words (`kernel`, `stride`, flags such as `ceil`), for completion in an editor.
let layerOptions (layer: string) = schemas.TryFind layer |> Option.map (fun s -> List.map fst s.Keys)

let private boolWord = function Atom (Ref ("on", _)) | Atom (Ref ("true", _)) -> Some 1 | Atom (Ref ("off", _)) | Atom (Ref ("false", _)) -> Some 0 | _ -> None

/// Reads a built-in layer's words against its schema: positional arguments first, then `key value` options and flags.
let private layerArgs (layer: string) (schema: Schema) (env: Map<string, Value>) (words: Word list) callPos =
    let isKey w = match w with Atom (Ref (n, _)) -> schema.Keys |> List.exists (fst >> (=) n) | _ -> false
    let rec go (positional: (string * ArgKind) list) (acc: Map<string, Value * Pos>) words =
        match words with
        | [] -> acc
        | (Atom (Ref (k, kp)) as w) :: rest when isKey w ->
            if acc.ContainsKey k then errorHint kp (sprintf "%s has `%s` twice" layer k) "keep one"
            match List.find (fst >> (=) k) schema.Keys |> snd, rest with
            | FlagArg, _ -> go positional (acc.Add(k, (I 1, kp))) rest
            | BoolArg, v :: rest' when (boolWord v).IsSome -> go positional (acc.Add(k, (I (boolWord v).Value, v.Pos))) rest'
            | BoolArg, Atom (Ref (n, p)) :: _ when not (env.ContainsKey n) && not (isKey (Atom (Ref (n, p)))) ->
                errorHint p (sprintf "%s %s is on or off, got `%s`" layer k n) (sprintf "write `%s on` or `%s off`" k k)
            | _, v :: rest' when not (isKey v) -> go positional (acc.Add(k, (eval env v.Expr, v.Pos))) rest'
            | _ -> errorHint kp (sprintf "`%s` needs a value" k) (sprintf "write e.g. `%s 2`" k)
        | w :: rest ->
            match positional, w with
            | (n, _) :: more, _ -> go more (acc.Add(n, (eval env w.Expr, w.Pos))) rest
            | [], Atom (Ref (n, p)) when not (env.ContainsKey n) && n <> "classes" ->
                let keys = schema.Keys |> List.map fst
                let hint = if keys.IsEmpty then sprintf "%s takes no options" layer else suggestion keys n
                errorHint p (sprintf "%s has no option `%s`" layer n) hint
            | [], _ ->
                let hint =
                    match schema.Positional, schema.Keys with
                    | [], [] -> sprintf "%s takes no arguments" layer
                    | [], keys -> sprintf "%s takes only options: %s" layer (keys |> List.map fst |> String.concat ", ")
                    | ps, _ -> sprintf "%s takes %d argument (%s) before its options" layer ps.Length (ps |> List.map fst |> String.concat ", ")
                errorHint w.Pos (sprintf "too many arguments for %s" layer) hint
    go schema.Positional Map.empty words

/// The calls a statement makes (layers and `let` functions), each with where it is written.
let rec callsIn stmt =
    match stmt with
    | Call (n, _, p) -> [ n, p ]
    | Pipe (ss, _) | Seq (ss, _) -> List.collect callsIn ss
    | Group (s, _) | Repeat (_, s, _) -> callsIn s

/// How deep `let` calls may nest, and how many layers a network may expand to.
let maxLetDepth = 32
let maxLayers = 100_000

let private checkLets (lets: LetDef list) =
    let byName = Collections.Generic.Dictionary<string, LetDef>()
    for l in lets do
        if schemas.ContainsKey l.Name then
            errorHint l.Pos (sprintf "`let %s` would hide the built-in layer %s" l.Name l.Name) "choose another name"
        if byName.ContainsKey l.Name then
            errorHint l.Pos (sprintf "`%s` is defined twice (first at line %d)" l.Name byName[l.Name].Pos.Line) "rename one of them"
        l.Params
        |> List.iteri (fun i (n, p) ->
            if l.Params |> List.take i |> List.exists (fst >> (=) n) then
                errorHint p (sprintf "`let %s` has two parameters named `%s`" l.Name n) "rename one of them")
        byName[l.Name] <- l
    // Depth-first search, each definition visited once: `path` holds the definitions being visited
    // (a call back into one of them is recursion); `height` maps each finished definition to the
    // longest chain of let calls from it, so that the expansion's depth is bounded.
    let height = Collections.Generic.Dictionary<string, int>()
    let rec visit (path: (string * Pos) list) (l: LetDef) =
        let mutable deepest = 0
        for n, p in callsIn l.Body do
            match byName.TryGetValue n with
            | true, callee ->
                if n = l.Name || List.exists (fst >> (=) n) path then
                    // path is innermost first: [l's caller...]; the cycle runs from n's entry down to l, then back to n.
                    let chain = (l.Name :: List.map fst path) |> List.takeWhile ((<>) n) |> List.rev
                    let cycle = n :: chain @ [ n ]
                    errorHint p (sprintf "`%s` calls itself: %s" n (String.concat " -> " cycle))
                        "a let cannot be recursive; use `repeat N (...)` to stamp out copies"
                if path.Length + 1 >= maxLetDepth then
                    errorHint p (sprintf "let calls nest more than %d deep" maxLetDepth) "flatten some of the lets into their callers"
                if not (height.ContainsKey n) then visit ((l.Name, l.Pos) :: path) callee
                deepest <- max deepest height[n]
            | _ -> ()
        if deepest + 1 > maxLetDepth then
            errorHint l.Pos (sprintf "let calls nest more than %d deep below `%s`" maxLetDepth l.Name) "flatten some of the lets into their callers"
        height[l.Name] <- deepest + 1
    for l in lets do
        if not (height.ContainsKey l.Name) then visit [] l
    byName

/// Expands a network body to its layers, in order, each located at the call that produced it.
let expand (lets: LetDef list) (globals: Map<string, Value>) (body: Stmt list) : (Layer * Pos) list =
    let defs = checkLets lets
    let mutable layers = 0L
    let count (n: int64) (p: Pos) =
        layers <- layers + n
        if layers > int64 maxLayers then
            errorHint p (sprintf "the network expands to more than %d layers" maxLayers) "check the repeat counts"
    // `site` is the line of the network body a layer came from: shape errors point there, where the arguments are.
    let rec go (site: Pos option) env stmt : (Layer * Pos) list =
        match stmt with
        | Pipe (ss, _) | Seq (ss, _) -> List.collect (go site env) ss
        | Group (s, _) -> go site env s
        | Repeat (n, s, _) ->
            match eval env n.Expr with
            | I k when k >= 1 ->
                let once = go site env s
                count (int64 (k - 1) * int64 once.Length) n.Pos
                List.replicate k once |> List.concat
            | v -> errorHint n.Pos (sprintf "repeat needs a whole count of at least 1, got %O" v) "write e.g. `repeat 3 (conv 64 kernel 3)`"
        | Call (name, words, p) ->
            match schemas.TryFind name with
            | Some schema ->
                let layer = schema.Make (Args(name, p, List.map fst schema.Positional, layerArgs name schema env words p)) p
                count 1 p
                [ layer, defaultArg site p ]
            | None ->
                match defs.TryGetValue name with
                | true, d ->
                    if words.Length <> d.Params.Length then
                        errorHint p (sprintf "`%s` takes %d argument(s), got %d" name d.Params.Length words.Length)
                            (sprintf "defined at line %d as `let %s %s`" d.Pos.Line name (d.Params |> List.map fst |> String.concat " "))
                    let inner = List.fold2 (fun (m: Map<string, Value>) (pn, _) (w: Word) -> m.Add(pn, eval env w.Expr)) globals d.Params words
                    go (Some(defaultArg site p)) inner d.Body
                | _ ->
                    let candidates = layerNames @ List.ofSeq defs.Keys
                    errorHint p (sprintf "unknown layer `%s`" name) (suggestion candidates name)
    List.collect (go None globals) body
