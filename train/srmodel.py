"""The super-resolution network: FSRCNN (Dong et al. 2016) predicting the
residual over a fixed bicubic x2 upsampling, on the BT.601 luma channel.

Layers (d=64, s=16, m=6, 20.2k parameters):
  conv 5x5 1->d, PReLU          feature extraction
  conv 1x1 d->s, PReLU          shrink
  m x (conv 3x3 s->s, PReLU)    mapping
  conv 1x1 s->d, PReLU          expand
  conv 3x3 d->4 and a x2 pixel shuffle (sub-pixel convolution, as ESPCN;
  it does what FSRCNN's strided 9x9 deconvolution does at a third of the
  cost, and the Go side needs no transposed convolution)
plus the bicubic base: x2 upsampling with the MATLAB kernel (a = -0.5) and
edge-replicated borders, written as a fixed 5x5 convolution to four phases
and a pixel shuffle so that the Go inference can reproduce it exactly.
All convolutions pad with zeros ("same" size). Input and output are Y/255.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def cubic(x, a=-0.5):
    x = abs(x)
    if x <= 1:
        return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
    if x < 2:
        return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
    return 0.0


def bicubic2_kernel():
    """4x1x5x5 weights: phase (ry, rx) of output pixel (2i+ry, 2j+rx) reads input rows i-2..i+2."""
    even = [cubic(1.75), cubic(0.75), cubic(0.25), cubic(1.25), 0.0]
    odd = [0.0, cubic(1.25), cubic(0.25), cubic(0.75), cubic(1.75)]
    ph = [np.array(even), np.array(odd)]
    k = np.zeros((4, 1, 5, 5), np.float32)
    for ry in range(2):
        for rx in range(2):
            k[ry * 2 + rx, 0] = np.outer(ph[ry], ph[rx])
    return torch.from_numpy(k)


class Bicubic2(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('weight', bicubic2_kernel())

    def forward(self, x):
        x = F.pad(x, (2, 2, 2, 2), mode='replicate')
        return F.pixel_shuffle(F.conv2d(x, self.weight), 2)


class FSRCNN(nn.Module):
    def __init__(self, d=64, s=16, m=6):
        super().__init__()
        self.d, self.s, self.m = d, s, m
        layers = [nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d),
                  nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.up = nn.Conv2d(d, 4, 3, padding=1)
        self.base = Bicubic2()
        for mod in self.body:
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, a=0.25)
                nn.init.zeros_(mod.bias)
        nn.init.normal_(self.up.weight, std=1e-3)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return self.base(x) + F.pixel_shuffle(self.up(self.body(x)), 2)


def count_params(model):
    return sum(p.numel() for p in model.parameters())
