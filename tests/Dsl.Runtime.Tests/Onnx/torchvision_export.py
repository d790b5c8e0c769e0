"""Exports a torchvision network with random weights, the last layer scaled so that the probabilities are not flat (no hub is reachable in CI) to ONNX, for the dsl import tests.

usage: torchvision_export.py NAME OUT.onnx OPSET [dynamic-batch]
NAME is a torchvision.models constructor (alexnet, vgg16, resnet18...); the input is one 3x224x224 image, the size
at which the adaptive pooling of AlexNet and VGG is the identity. dynamic-batch leaves the batch dimension open, as
most published exports do.
"""
import sys

import torch
import torchvision


def main():
    name, out, opset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    image = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        # torchvision's initialisation leaves 1000 nearly equal probabilities, which would hide a wrong layer: the last
        # linear layer is scaled so that the scores spread (standard deviation 3).
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        scale = 3.0 / model(image).std().item()
        last.weight.mul_(scale)
        last.bias.mul_(scale)
    axes = {"input": {0: "batch"}, "scores": {0: "batch"}} if "dynamic-batch" in sys.argv[4:] else None
    with torch.no_grad():
        torch.onnx.export(model, image, out, opset_version=opset, input_names=["input"], output_names=["scores"], dynamic_axes=axes)


if __name__ == "__main__":
    main()
