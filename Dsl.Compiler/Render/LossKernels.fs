/// Softmax with (optionally class-weighted) mean cross-entropy, one item per example: probabilities, the
/// example's weighted loss and weight (summed on the host in double), and in training the logits' gradient.
module Dsl.Compiler.Render.LossKernels

open Dsl.Compiler.Render.CStyle

/// loss_i = log(sum exp(z - max)) - (z_y - max): exact even where p_y underflows. With class weights w,
/// the mean is sum w_y * loss / sum w_y and dlogits = (p - onehot(y)) * w_y / sum over the batch of w_y;
/// without, w = 1. Labels are ints; the host checks they lie in [0, classes).
let softmaxCrossEntropy (c: Ctx) name n classes logits labels probs (dlogits: int option) (classWeights: int option) =
    let gp = c.D.Global
    let weightParam = classWeights |> Option.map (fun w -> Read("classWeights", Buf w)) |> Option.toList
    let gradParam = dlogits |> Option.map (fun d -> Write("dlogits", Buf d)) |> Option.toList
    let weight = if classWeights.IsSome then "classWeights[y]" else "1.0f"
    let gradient =
        match dlogits, classWeights with
        | None, _ -> ""
        | Some _, None -> sprintf "const float scale = %s;" (flt (float32 (1.0 / float n)))
        | Some _, Some _ ->
            // Every item sums the batch's weights itself: the batch is small, and no second launch is needed.
            sprintf "float total = 0.0f;\nfor (int j = 0; j < %d; j++) total += classWeights[labels[j]];\nconst float scale = w / total;" n
    let apply =
        if dlogits.IsNone then ""
        else
            $$"""
            {{gp}}float* d = dlogits + i * {{classes}};
            for (int j = 0; j < {{classes}}; j++) d[j] = p[j] * scale;
            d[y] -= scale;
            """
    perItem c name ([ Read("logits", Buf logits); ReadInt("labels", Buf labels); Write("probs", Buf probs) ] @ weightParam @ gradParam @ [ Write("losses", Losses) ])
        (int64 n)
        $$"""
        {{gp}}const float* z = logits + i * {{classes}};
        {{gp}}float* p = probs + i * {{classes}};
        float top = z[0];
        for (int j = 1; j < {{classes}}; j++) top = {{c.D.Math "fmax"}}(top, z[j]);
        float sum = 0.0f;
        for (int j = 0; j < {{classes}}; j++) {
            const float e = {{c.D.Math "exp"}}(z[j] - top);
            p[j] = e;
            sum += e;
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < {{classes}}; j++) p[j] *= inv;
        const int y = labels[i];
        const float w = {{weight}};
        losses[i] = w * ({{c.D.Math "log"}}(sum) - (z[y] - top));
        losses[{{n}} + i] = w;
        {{splice 8 gradient}}
        {{splice 8 apply}}
        """
