namespace Dsl.Runtime.Checks;

/// <summary>Networks whose whole training step the harness compares between devices.</summary>
public static class StepCases
{
    /// <summary>Every layer kind composed, with grouped and strided convolutions, overlapping and ceil pooling,
    /// batch norm and dropout, so kernels meet arena offsets and in-place gradients as real plans have them.</summary>
    public const string Mixed = """
        network mixed
          input 4 x 11 x 11
          conv 6 kernel 3 pad 1 groups 2 |> relu |> lrn size 3 alpha 1e-2 beta 0.75 k 2
          maxpool 3 stride 2
          conv 8 kernel 3 stride 2 pad 1 floor |> tanh
          batchnorm |> leaky-relu 0.1
          avgpool 2 ceil
          flatten
          dense 12 |> sigmoid |> dropout 0.3
          dense classes
          softmax
        """;
}
