/// Local response normalisation (the AlexNet paper's form: alpha not divided by the window size) and
/// batch normalisation with batch statistics, forward and backward.
module Dsl.Compiler.Render.NormKernels

open Dsl.Core
open Dsl.Compiler.Render.CStyle

/// s^-beta; the paper's 0.75 as 1 / (sqrt(s) * sqrt(sqrt(s))), like the CPU device, instead of pow's exp/log.
let private powNeg (c: Ctx) (beta: float) (s: string) =
    let sqrt = c.D.Math "sqrt"
    if float32 beta = 0.75f then sprintf "(1.0f / (%s(%s) * %s(%s(%s))))" sqrt s sqrt sqrt s
    else sprintf "%s(%s, %s)" (c.D.Math "pow") s (fltOf -beta)

/// The channels j of the window centred on channel c of element i, and where element i's plane starts.
let private window ch hw (spec: LrnSpec) =
    $$"""
    const int p = i % {{hw}}, c = i / {{hw}} % {{ch}}, base = i / {{ch * hw}} * {{ch * hw}} + p;
    const int j0 = max(c - {{spec.Size / 2}}, 0), j1 = min(c + {{spec.Size / 2}}, {{ch - 1}});
    """
    |> dedent

/// scale = k + alpha * (sum of x^2 over the window), kept for the backward; y = x * scale^-beta.
let lrnForward (c: Ctx) name n ch h w (spec: LrnSpec) x y scale =
    let hw = h * w
    perItem c name [ Read("x", Buf x); Write("y", Buf y); Write("scale", Buf scale) ] (int64 n * int64 ch * int64 hw)
        $$"""
        {{window ch hw spec}}
        float sq = 0.0f;
        for (int j = j0; j <= j1; j++) {
            const float v = x[base + j * {{hw}}];
            sq += v * v;
        }
        const float s = {{fltOf spec.K}} + {{fltOf spec.Alpha}} * sq;
        scale[i] = s;
        y[i] = x[i] * {{powNeg c spec.Beta "s"}};
        """

/// dx_i = dy_i * scale_i^-beta - 2 alpha beta x_i * sum over the window of dy_j y_j / scale_j (the window is
/// symmetric: j's window holds i exactly when i's holds j).
let lrnBackward (c: Ctx) name n ch h w (spec: LrnSpec) x y scale dy dx =
    let hw = h * w
    let coef = -2.0f * float32 spec.Alpha * float32 spec.Beta
    perItem c name
        [ Read("x", Buf x); Read("y", Buf y); Read("scale", Buf scale); Read("dy", Buf dy); Write("dx", Buf dx) ]
        (int64 n * int64 ch * int64 hw)
        $$"""
        {{window ch hw spec}}
        float ratio = 0.0f;
        for (int j = j0; j <= j1; j++) {
            const int o = base + j * {{hw}};
            ratio += dy[o] * y[o] / scale[o];
        }
        const float s = scale[i];
        dx[i] = dy[i] * {{powNeg c spec.Beta "s"}} + {{flt coef}} * x[i] * ratio;
        """

/// One work-group per channel; `each` is a statement run for every element of the channel, with `at`
/// its index.
let private perChannel (c: Ctx) name ch ps body =
    let wg = c.T.WorkGroup
    let body = sprintf "%s float scratch[%d];\nconst int tid = %s, c = %s;\n%s" c.D.Local wg (c.D.LocalId 0) (c.D.GroupId 0) (dedent body)
    { Source = kernel c name (wg, 1, 1) ps body
      Launches = [ launch name ps (ch, 1, 1) (wg, 1, 1) ]
      Helpers = [] }

let private forChannel (c: Ctx) n ch hw (statement: string) =
    sprintf "for (int e = tid; e < %d; e += %d) {\n    const int at = (e / %d * %d + c) * %d + e %% %d;\n    %s\n}"
        (n * hw) c.T.WorkGroup hw ch hw hw statement

/// Normalises with the batch's mean and biased variance, keeps mean and 1/sqrt(var + eps) for the backward,
/// and moves the running statistics towards the batch's (unbiased variance), as PyTorch does.
let batchNormTraining (c: Ctx) name n ch hw (spec: BatchNormSpec) x gamma beta y mean invStd rm rv =
    let count = n * hw
    let m = float32 spec.Momentum
    let ps =
        [ Read("x", Buf x); Read("gamma", Buf gamma); Read("beta", Buf beta); Write("y", Buf y)
          Write("saveMean", Buf mean); Write("saveInvStd", Buf invStd); Write("rm", Buf rm); Write("rv", Buf rv) ]
    perChannel c name ch ps
        $$"""
        float part = 0.0f;
        {{forChannel c n ch hw "part += x[at];"}}
        {{reduceSum c "scratch" "part" "total"}}
        const float mu = total / {{count}}.0f;
        float dev = 0.0f;
        {{forChannel c n ch hw "const float d = x[at] - mu; dev += d * d;"}}
        {{reduceSum c "scratch" "dev" "sq"}}
        const float inv = 1.0f / {{c.D.Math "sqrt"}}(sq / {{count}}.0f + {{fltOf spec.Eps}});
        if (tid == 0) {
            saveMean[c] = mu;
            saveInvStd[c] = inv;
            rm[c] = {{flt (1.0f - m)}} * rm[c] + {{flt m}} * mu;
            rv[c] = {{flt (1.0f - m)}} * rv[c] + {{flt m}} * (sq / {{max 1 (count - 1)}}.0f);
        }
        const float a = gamma[c] * inv, sh = beta[c] - mu * a;
        {{forChannel c n ch hw (sprintf "y[at] = %s(x[at], a, sh);" (c.D.Math "fma"))}}
        """

/// dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma*invStd/M * (M*dy - dbeta - xhat*dgamma), xhat = (x - mean)*invStd.
let batchNormBackward (c: Ctx) name n ch hw x dy gamma mean invStd dx dgamma dbeta =
    let count = n * hw
    let ps =
        [ Read("x", Buf x); Read("dy", Buf dy); Read("gamma", Buf gamma); Read("saveMean", Buf mean); Read("saveInvStd", Buf invStd)
          Write("dx", Buf dx); Write("dgamma", Buf dgamma); Write("dbeta", Buf dbeta) ]
    perChannel c name ch ps
        $$"""
        const float mu = saveMean[c], inv = saveInvStd[c];
        float pdy = 0.0f, pdyx = 0.0f;
        {{forChannel c n ch hw "pdy += dy[at]; pdyx += dy[at] * (x[at] - mu);"}}
        {{reduceSum c "scratch" "pdy" "sdy"}}
        {{reduceSum c "scratch" "pdyx" "sdyx"}}
        const float dg = sdyx * inv;
        if (tid == 0) {
            dbeta[c] = sdy;
            dgamma[c] = dg;
        }
        const float k = gamma[c] * inv, meanDy = sdy / {{count}}.0f, xCoef = dg * inv / {{count}}.0f;
        {{forChannel c n ch hw "dx[at] = k * (dy[at] - meanDy - (x[at] - mu) * xCoef);"}}
        """
