#!/usr/bin/env bash
# Transfer learning from a pretrained network, the small-data workflow (examples/transfer/README.md):
#   1. import the network's ONNX file: its conv base keeps its names and weights;
#   2. freeze the conv base and train a new dense head on an image folder;
#   3. unfreeze the last conv block at lr-mult 0.1 and fine-tune it with the head.
# usage: transfer.sh NET.onnx IMAGES [WORK]
#   IMAGES: one sub-folder per class. WORK (default transfer-work) receives pretrained/, features.model, finetune.model, runs/.
#   DSL names the dsl command (default: dsl); EPOCHS the epochs of each stage (default 10); BATCH the batch (default 32).
set -euo pipefail
onnx=$(realpath "$1")
images=$(realpath "$2")
work=${3:-transfer-work}
dsl=${DSL:-dsl}
epochs=${EPOCHS:-10}
batch=${BATCH:-32}
mkdir -p "$work"
cd "$work"

# 1. The pretrained network as a model file and weights in dsl's names (conv1.weight, ...).
$dsl import "$onnx" --name base --out pretrained

# The conv base: the imported layers up to its flatten, as dsl wrote them (one layer per line, the keyword first).
base=$(sed -n '/^  input /,/^  flatten /p' pretrained/base.model | grep -v '^  input \|^  flatten \|^ *//\|^$')
input=$(grep '^  input ' pretrained/base.model)
size=$(echo "$input" | awk '{print $NF}')
# The last conv block: what follows the second-to-last pool (VGG16: conv11 to pool5).
read -r before_last first_conv_of_last <<<"$(echo "$base" | awk '
  $1 == "conv" { convs++ }
  $1 == "maxpool" || $1 == "avgpool" { pools++; convs_at[pools] = convs }
  END { print "pool" (pools - 1), "conv" (convs_at[pools - 1] + 1) }')"

stage() {
  echo "network transfer"
  echo "$input"
  echo "$base"
  echo "  flatten"
  echo "  dense 256 |> relu |> dropout 0.5"
  echo "  dense classes"
  echo "  softmax"
  echo
  echo "train"
  echo "  data       folder \"$images\" resize $size validation 0.2"
  echo "  augment    flip horizontal"
  echo "  normalize  mean-std"
  echo "  batch      $batch"
  echo "  epochs     $epochs"
}

# 2. Feature extraction: the conv base frozen with its imported weights; the new head (dense1, dense2) learns.
{ stage
  echo "  optimizer  sgd lr 0.01 momentum 0.9"
  echo "  init       he from \"pretrained/base.safetensors\""
  echo "  freeze     conv1 to flatten1"
} > features.model
$dsl run features.model --out runs/features

# 3. Fine-tuning: the last conv block learns at a tenth of the rate, the head at the full (low) rate, the rest stays frozen.
{ stage
  echo "  optimizer  sgd lr 0.001 momentum 0.9"
  echo "  init       he from \"runs/features/weights.safetensors\""
  echo "  freeze     conv1 to $before_last"
  echo "  lr-mult    $first_conv_of_last to flatten1 0.1"
} > finetune.model
$dsl run finetune.model --out runs/finetune
