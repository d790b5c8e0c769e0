/// Parameter updates with the CPU device's (PyTorch's) rules, weight decay added to the gradient.
/// One kernel per tensor size; hyperparameters are constants, while the learning rate, the weight decay
/// (both scaled per tensor) and Adam's bias corrections are arguments.
module Dsl.Compiler.Render.OptimizerKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle
open Dsl.Compiler.Render.ElementwiseKernels

let private update name count body updates extra =
    { Name = name; Count = count; Inputs = [ "g", WeightGrad ]; Outputs = []; Updates = updates; Extra = extra; Body = body; Helpers = [] }

/// Kernel name of the update of a tensor of `count` floats.
let name (count: int64) = sprintf "update_%d" count

let render (c: Ctx) (optimizer: Optimizer) (count: int64) : Rendered =
    let wd = Value("float", "wd", WeightDecay)
    let lr = [ Value("float", "lr", LearningRate); wd ]
    let sgdUpdates mu = if float32 mu <> 0.0f then [ "w", Weight; "s1", State1 ] else [ "w", Weight ]
    match optimizer with
    | Sgd (_, mu, nesterov, _) ->
        // v = mu*v + g'; step = nesterov ? g' + mu*v : v (plain g' without momentum).
        let momentum =
            if float32 mu = 0.0f then ""
            else sprintf "s1 = %s * s1 + gi;\ngi = %s;" (fltOf mu) (if nesterov then sprintf "gi + %s * s1" (fltOf mu) else "s1")
        let body = sprintf "float gi = g + wd * w;\n%s\nw = w - lr * gi;" momentum
        ElementwiseKernels.render c (update (name count) count body (sgdUpdates mu) lr)
    | Adam (_, b1, b2, eps, _) ->
        // w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
        let f1, f2 = float32 b1, float32 b2
        let body =
            $$"""
            const float gi = g + wd * w;
            s1 = {{flt f1}} * s1 + {{flt (1.0f - f1)}} * gi;
            s2 = {{flt f2}} * s2 + {{flt (1.0f - f2)}} * gi * gi;
            w = w - stepSize * s1 / ({{c.D.Math "sqrt"}}(s2) * invSqrtBias2 + {{fltOf eps}});
            """
        ElementwiseKernels.render c
            (update (name count) count body [ "w", Weight; "s1", State1; "s2", State2 ]
                [ wd; Value("float", "stepSize", AdamStepSize); Value("float", "invSqrtBias2", AdamInvSqrtBias2) ])
    | RmsProp (_, rho, eps, mu, _) ->
        // sq = rho*sq + (1-rho)*g'^2; step = g' / (sqrt(sq) + eps), through a momentum buffer when mu > 0.
        let r = float32 rho
        let momentum = if float32 mu > 0.0f then sprintf "s2 = %s * s2 + st;\nst = s2;" (fltOf mu) else ""
        let body =
            $$"""
            const float gi = g + wd * w;
            s1 = {{flt r}} * s1 + {{flt (1.0f - r)}} * gi * gi;
            float st = gi / ({{c.D.Math "sqrt"}}(s1) + {{fltOf eps}});
            {{splice 12 momentum}}
            w = w - lr * st;
            """
        let updates = [ "w", Weight; "s1", State1 ] @ (if float32 mu > 0.0f then [ "s2", State2 ] else [])
        ElementwiseKernels.render c (update (name count) count body updates lr)
