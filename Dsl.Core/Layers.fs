namespace Dsl.Core

type Activation =
    | Relu
    | LeakyRelu of slope: float
    | Tanh
    | Sigmoid

type Rounding =
    | Floor
    | Ceil

type PoolKind =
    | MaxPool
    | AvgPool

type ConvSpec =
    { Filters: int
      Kernel: int * int
      Stride: int * int
      Pad: int * int
      Groups: int
      Bias: bool
      /// None: the output size must come out whole; Some: the file chose how to round.
      Rounding: Rounding option }

type PoolSpec =
    { Kind: PoolKind
      Size: int * int
      Stride: int * int
      Pad: int * int
      Rounding: Rounding }

/// Local response normalisation across channels, the AlexNet paper's formula:
/// b_i = a_i / (k + alpha * sum_j a_j^2)^beta over `Size` channels centred on i (alpha not divided by size).
type LrnSpec = { Size: int; Alpha: float; Beta: float; K: float }

type DenseSpec = { Units: int; Bias: bool }

type BatchNormSpec = { Eps: float; Momentum: float }

/// One layer of an expanded network.
type Layer =
    | Conv of ConvSpec
    | Pool of PoolSpec
    | Lrn of LrnSpec
    | Dense of DenseSpec
    | Dropout of rate: float
    | Act of Activation
    | BatchNorm of BatchNormSpec
    | Flatten
    | Softmax

module Layer =
    /// The word a model file uses for the layer, also the stem of its generated name (conv1, pool2...).
    let keyword =
        function
        | Conv _ -> "conv"
        | Pool { Kind = MaxPool } -> "maxpool"
        | Pool { Kind = AvgPool } -> "avgpool"
        | Lrn _ -> "lrn"
        | Dense _ -> "dense"
        | Dropout _ -> "dropout"
        | Act Relu -> "relu"
        | Act (LeakyRelu _) -> "leaky-relu"
        | Act Tanh -> "tanh"
        | Act Sigmoid -> "sigmoid"
        | BatchNorm _ -> "batchnorm"
        | Flatten -> "flatten"
        | Softmax -> "softmax"

    // Defaults of each layer's options, shared by the model file and the code builders.
    let convDefaults filters : ConvSpec =
        { Filters = filters; Kernel = (1, 1); Stride = (1, 1); Pad = (0, 0); Groups = 1; Bias = true; Rounding = None }

    /// A pool's stride defaults to its size (non-overlapping), as in Keras and PyTorch.
    let poolDefaults kind size : PoolSpec =
        { Kind = kind; Size = (size, size); Stride = (size, size); Pad = (0, 0); Rounding = Floor }

    let lrnDefaults: LrnSpec = { Size = 5; Alpha = 1e-4; Beta = 0.75; K = 2.0 }
    let batchNormDefaults: BatchNormSpec = { Eps = 1e-5; Momentum = 0.1 }
