"""The networks of Models/*.model written in PyTorch, layer for layer, for the peer benchmarks."""
import torch.nn as nn


def alexnet(classes=1000):
    # PyTorch's LocalResponseNorm divides alpha by the size; the paper's alpha 1e-4 is 5e-4 here.
    lrn = lambda: nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes))


def lenet(classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3136, 512), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(512, classes))


def cifar_bn(classes=10):
    def conv_bn(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    def stage(i, o):
        return conv_bn(i, o) + conv_bn(o, o) + [nn.MaxPool2d(2)]

    return nn.Sequential(
        *stage(3, 32), *stage(32, 64), *stage(64, 128), nn.Flatten(),
        nn.Linear(2048, 256), nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(256, classes))


def vgg16(classes=1000):
    layers, c = [], 3
    for n, depth in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(depth):
            layers += [nn.Conv2d(c, n, 3, padding=1), nn.ReLU(inplace=True)]
            c = n
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(25088, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes))


MODELS = {"alexnet": (alexnet, (3, 227, 227), 1000), "lenet": (lenet, (1, 28, 28), 10),
          "cifar-bn": (cifar_bn, (3, 32, 32), 10), "vgg16": (vgg16, (3, 224, 224), 1000)}
