namespace Dsl.Core

/// Where a buffer lives and how long: parameters and their gradients persist across steps;
/// activations, gradients and saved values live inside one step and share an arena.
type BufferKind =
    | Parameter
    | ParameterGrad
    /// Batch-norm running statistics: persistent, saved with the weights, never trained.
    | RunningStat
    | Activation
    | Gradient
    /// What a forward kernel keeps for its backward (argmax, dropout mask, LRN scale, batch statistics).
    | Saved
    /// Values the trainer writes once, such as class weights.
    | Constant
    | InputImages
    | InputLabels
    | Probabilities

type Buffer =
    { Id: int
      /// conv1.weight, conv1.out, conv1.grad, pool1.argmax...
      Name: string
      Floats: int64
      Kind: BufferKind
      /// For parameters: what initialisation needs.
      FanIn: int
      FanOut: int }

type ConvGeom =
    { N: int; C: int; H: int; W: int; K: int; R: int; S: int
      StrideH: int; StrideW: int; PadH: int; PadW: int; Groups: int; Ho: int; Wo: int }

type PoolGeom =
    { N: int; C: int; H: int; W: int; R: int; S: int
      StrideH: int; StrideW: int; PadH: int; PadW: int; Ho: int; Wo: int }

/// One kernel launch over buffers named by id, its shapes fixed at compile time.
/// A fused activation (`Act`) is applied in the epilogue of the kernel that carries it.
type Kernel =
    | ConvForward of G: ConvGeom * X: int * W: int * Bias: int option * Y: int * Act: Activation option
    | ConvBackwardData of G: ConvGeom * Dy: int * W: int * Dx: int
    | ConvBackwardFilter of G: ConvGeom * X: int * Dy: int * Dw: int * Dbias: int option
    | DenseForward of N: int * In: int * Out: int * X: int * W: int * Bias: int option * Y: int * Act: Activation option
    | DenseBackwardData of N: int * In: int * Out: int * Dy: int * W: int * Dx: int
    | DenseBackwardWeights of N: int * In: int * Out: int * X: int * Dy: int * Dw: int * Dbias: int option
    /// Derivative of an activation from its output; Dx may be Dy (in place).
    | ActivationForward of Act: Activation * Count: int64 * X: int * Y: int
    | ActivationBackward of Act: Activation * Count: int64 * Y: int * Dy: int * Dx: int
    | MaxPoolForward of P: PoolGeom * X: int * Y: int * Argmax: int
    | MaxPoolBackward of P: PoolGeom * Dy: int * Argmax: int * Dx: int
    | AvgPoolForward of P: PoolGeom * X: int * Y: int
    | AvgPoolBackward of P: PoolGeom * Dy: int * Dx: int
    | LrnForward of N: int * C: int * H: int * W: int * Spec: LrnSpec * X: int * Y: int * Scale: int
    | LrnBackward of N: int * C: int * H: int * W: int * Spec: LrnSpec * X: int * Y: int * Scale: int * Dy: int * Dx: int
    | DropoutForward of Count: int64 * Rate: float * Layer: int * X: int * Y: int * Mask: int
    | DropoutBackward of Count: int64 * Mask: int * Dy: int * Dx: int
    | BatchNormForward of N: int * C: int * HW: int * Spec: BatchNormSpec * Training: bool * X: int * Gamma: int * Beta: int * Y: int * Mean: int * InvStd: int * RunningMean: int * RunningVar: int
    | BatchNormBackward of N: int * C: int * HW: int * X: int * Dy: int * Gamma: int * Mean: int * InvStd: int * Dx: int * Dgamma: int * Dbeta: int
    /// Softmax with cross-entropy: probabilities, the loss, and (when training) the logits' gradient.
    | SoftmaxCrossEntropy of N: int * Classes: int * Logits: int * Labels: int * Probs: int * Dlogits: int option

type PlanMode =
    | Training
    | Inference

/// A trainable tensor, its gradient, and its factors on the learning rate and the weight decay.
type ParamRef = { Layer: string; Role: string; Value: int; Grad: int; LrMult: float; DecayMult: float }

/// Everything one step needs: the buffers, the kernels in launch order, and where each buffer sits in the arena.
type Plan =
    { Network: string
      Mode: PlanMode
      Batch: int
      Buffers: Buffer array
      Kernels: Kernel list
      /// Trainable parameters in network order (weights before biases within a layer).
      Params: ParamRef list
      Images: int
      Labels: int
      Probs: int
      Classes: int
      /// The loss's per-class weights (a Constant buffer), when the train block asks for them.
      ClassWeights: int option
      /// Offsets in floats of every arena buffer (activations, gradients, saved values, inputs).
      Offsets: Map<int, int64>
      ArenaFloats: int64 }
