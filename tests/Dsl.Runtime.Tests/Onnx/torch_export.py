"""Exports a torchvision network, or a small PyTorch module written the way tutorials write them, with random weights, the last layer scaled so that the probabilities are not flat (no hub is reachable in CI) to ONNX, for the dsl import tests.

usage: torch_export.py NAME OUT.onnx OPSET [dynamic-batch] [no-folding]
NAME is a torchvision.models constructor (alexnet, vgg16, resnet18...), whose input is one 3x224x224 image, the size at
which the adaptive pooling of AlexNet and VGG is the identity; or "tutorial", the module below on 3x32x32 images.
dynamic-batch leaves the batch dimension open, as most published exports do; no-folding leaves the shape arithmetic of
`x.view(x.size(0), -1)` in the graph.
"""
import sys

import torch
import torchvision


class Tutorial(torch.nn.Module):
    """Batch norm after a bias-free conv and on vectors, ceil-mode pooling, view to flatten, leaky relu, dropout, softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = torch.nn.Conv2d(8, 16, 5, stride=2, padding=2)
        self.avg = torch.nn.AvgPool2d(2)
        self.fc1 = torch.nn.Linear(16 * 4 * 4, 32)
        self.bn2 = torch.nn.BatchNorm1d(32)
        self.drop = torch.nn.Dropout(0.3)
        self.fc2 = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.avg(torch.tanh(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = self.drop(torch.nn.functional.leaky_relu(self.bn2(self.fc1(x)), 0.1))
        return torch.softmax(self.fc2(x), dim=1)


def main():
    name, out, opset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(0)
    if name == "tutorial":
        model, image = Tutorial(), torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            # Running statistics that differ from the initial 0 and 1, so that batch norm shows in the output.
            for bn in (model.bn1, model.bn2):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 1.5)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)
            # Scores far enough apart that the probabilities are not flat.
            model.fc2.weight.mul_(20)
        model.eval()
    else:
        model, image = getattr(torchvision.models, name)(weights=None).eval(), torch.randn(1, 3, 224, 224)
        with torch.no_grad():
            # torchvision's initialisation leaves 1000 nearly equal probabilities, which would hide a wrong layer: the last
            # linear layer is scaled so that the scores spread (standard deviation 3).
            last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
            scale = 3.0 / model(image).std().item()
            last.weight.mul_(scale)
            last.bias.mul_(scale)
    axes = {"input": {0: "batch"}, "scores": {0: "batch"}} if "dynamic-batch" in sys.argv[4:] else None
    with torch.no_grad():
        torch.onnx.export(model, image, out, opset_version=opset, input_names=["input"], output_names=["scores"], dynamic_axes=axes,
                          do_constant_folding="no-folding" not in sys.argv[4:])


if __name__ == "__main__":
    main()
