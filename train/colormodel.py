"""The automatic colorization network: CIELAB a and b from L, at a quarter
of a reduced working size (WORK_SIDE pixels on the long side).

A plain stack (the Go side runs sequences only): two stride-2
convolutions take L to a quarter of the working size, where dilated 3x3
convolutions (dilation 1, 2, 4, 8, 1) see most of the picture at once,
and a last convolution gives a and b (over 100). Colour is smooth, so the
quarter-size ab is upsampled by the engine, guided by the full-resolution
lightness. Input is L/100.
"""
import torch.nn as nn

WORK_SIDE = 192


def ColorNet(c=32):
    layers = [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
              nn.Conv2d(16, c, 3, stride=2, padding=1), nn.ReLU(),
              nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU()]
    for d in [1, 2, 4, 8, 1]:
        layers += [nn.Conv2d(c, c, 3, padding=d, dilation=d), nn.ReLU()]
    layers += [nn.Conv2d(c, 2, 3, padding=1)]
    return nn.Sequential(*layers)
