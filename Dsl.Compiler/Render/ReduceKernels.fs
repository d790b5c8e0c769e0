/// Sums over the batch: the bias gradients of convolutions and dense layers.
module Dsl.Compiler.Render.ReduceKernels

open Dsl.Compiler.Render.CStyle

/// db[k] = sum over n and the hw positions of dy[n, k, position]; one work-group per channel, each item
/// summing a strided share and the group adding the shares as a tree (a dense layer has hw = 1).
let biasGrad (c: Ctx) name n channels hw dy db =
    let wg = c.T.WorkGroup
    let ps = [ Read("dy", Buf dy); Write("db", Buf db) ]
    let body =
        $$"""
        {{c.D.Local}} float scratch[{{wg}}];
        const int tid = {{c.D.LocalId 0}}, k = {{c.D.GroupId 0}};
        float part = 0.0f;
        for (int e = tid; e < {{n * hw}}; e += {{wg}}) part += dy[(e / {{hw}} * {{channels}} + k) * {{hw}} + e % {{hw}}];
        {{reduceSum c "scratch" "part" "total"}}
        if (tid == 0) db[k] = total;
        """
    { Source = kernel c name (wg, 1, 1) ps body
      Launches = [ launch name ps (channels, 1, 1) (wg, 1, 1) ]
      Helpers = [] }
