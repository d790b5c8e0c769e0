namespace Dsl.Core

type DataSource =
    | FashionMnist
    | Mnist
    | Cifar10
    | Cifar100
    | ImageFolder of path: string
    | Synthetic of classes: int

type DataSpec =
    { Source: DataSource
      /// Images are resized to this side before augmentation.
      Resize: int option
      /// Grey images are replicated to this many channels.
      Channels: int option
      /// Fraction of the training set held out for validation.
      Validation: float }

type Augmentation =
    | Crop of size: int * from: int
    | FlipHorizontal
    | FlipVertical
    | Brightness of float
    | Contrast of float
    /// A random rotation of up to this many degrees either way.
    | Rotate of degrees: float
    /// A random shift of up to this many pixels along each axis.
    | Translate of pixels: int

type Normalization =
    | NoNormalization
    | MeanOnly
    | MeanStd

type Optimizer =
    | Sgd of lr: float * momentum: float * nesterov: bool * weightDecay: float
    | Adam of lr: float * beta1: float * beta2: float * eps: float * weightDecay: float
    | RmsProp of lr: float * rho: float * eps: float * momentum: float * weightDecay: float

type Monitor =
    | ValLoss
    | ValAccuracy
    | TrainLoss

type Schedule =
    | Constant
    | StepDecay of every: int * factor: float
    | Exponential of gamma: float
    | Cosine of minLr: float
    | ReduceOnPlateau of monitor: Monitor * factor: float * patience: int * minLr: float

type StopEarly = { Monitor: Monitor; Patience: int; RestoreBest: bool }

/// How weights start: a scheme for every tensor, then (optionally) tensors loaded from a file by name.
type InitScheme =
    /// He on the hidden layers, zero on the layer that feeds the loss: the first logits are 0.
    | ByRole
    | He
    | Glorot
    | PaperInit

type Init = { Scheme: InitScheme; From: string option }

type ClassWeights =
    | Uniform
    /// Inverse class frequency in the training set, as scikit-learn's and Keras' "balanced".
    | Balanced
    | Explicit of float list

/// Layers named by `freeze` or a multiplier: a single layer, or an inclusive range in network order.
type LayerRange = { First: string; Last: string }

type Checkpoint =
    | EveryEpochs of int
    | BestOnly

type SampleOrder =
    | Shuffle
    | ByClass
    | BySimilarity
    | Hybrid

/// The `train` block. Every key is optional; defaults are those of the `train` block reference.
type TrainConfig =
    { Data: DataSpec option
      Augment: Augmentation list
      Normalize: Normalization
      Batch: int
      Optimizer: Optimizer
      Schedule: Schedule
      StopEarly: StopEarly option
      Checkpoint: Checkpoint option
      Epochs: int
      Seed: int
      Order: SampleOrder
      Init: Init
      Freeze: LayerRange list
      /// Caffe's lr_mult and decay_mult: per-layer factors on the learning rate and the weight decay.
      LrMult: (LayerRange * float) list
      DecayMult: (LayerRange * float) list
      ClassWeights: ClassWeights }

module TrainConfig =
    let defaults =
        { Data = None
          Augment = []
          Normalize = NoNormalization
          Batch = 64
          Optimizer = Sgd(0.01, 0.9, false, 0.0)
          Schedule = Constant
          StopEarly = None
          Checkpoint = None
          Epochs = 10
          Seed = 1
          Order = Shuffle
          Init = { Scheme = ByRole; From = None }
          Freeze = []
          LrMult = []
          DecayMult = []
          ClassWeights = Uniform }

    /// The layer names a range covers, in network order; None if an end is not a layer name.
    let expandRange (names: string list) (r: LayerRange) =
        match List.tryFindIndex ((=) r.First) names, List.tryFindIndex ((=) r.Last) names with
        | Some a, Some b -> Some(names[min a b .. max a b])
        | _ -> None

    /// Number of classes a known data set has; None where it must come from elsewhere.
    let classesOf =
        function
        | FashionMnist | Mnist | Cifar10 -> Some 10
        | Cifar100 -> Some 100
        | Synthetic n -> Some n
        | ImageFolder _ -> None
