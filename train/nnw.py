"""The .nnw weight format read by internal/neural (Go).

  bytes 0-3   magic "NNW1"
  bytes 4-7   header length N, uint32 little-endian
  bytes 8..   N bytes of UTF-8 JSON (the header)
  then        the tensors, float32 little-endian, one after another

The header names the model, its input convention and provenance, and lists
its layers in order; every tensor in a layer is [offset, count] in floats
from the start of the tensor data. Convolution weights are PyTorch's
[out][in][kh][kw] order. Ops: conv (in, out, kernel, stride, dilation,
padding; zero padding), prelu (alpha per channel), relu, pixel_shuffle
(factor, PyTorch's channel order), upsample (factor, nearest).

Reference files (testdata/neural/*.nnw) use the same container with
"cases": [{"name", "input": [offset, h, w, c], "output": [offset, h, w, c]}],
HWC order.
"""
import json
import struct

import numpy as np
import torch.nn as nn


class Writer:
    def __init__(self):
        self.blobs, self.n = [], 0

    def add(self, arr):
        a = np.ascontiguousarray(np.asarray(arr, dtype='<f4')).ravel()
        off = self.n
        self.blobs.append(a)
        self.n += a.size
        return [off, int(a.size)]

    def write(self, path, header):
        h = json.dumps(header, indent=1, sort_keys=True).encode()
        with open(path, 'wb') as f:
            f.write(b'NNW1')
            f.write(struct.pack('<I', len(h)))
            f.write(h)
            for b in self.blobs:
                f.write(b.tobytes())


def layers_of(seq, w):
    """Describes an nn.Sequential (of the module kinds the Go side knows)."""
    out = []
    for m in seq:
        if isinstance(m, nn.Conv2d):
            assert m.padding_mode == 'zeros' and m.groups == 1
            out.append({'op': 'conv', 'in': m.in_channels, 'out': m.out_channels,
                        'kernel': m.kernel_size[0], 'stride': m.stride[0],
                        'dilation': m.dilation[0], 'padding': m.padding[0],
                        'weight': w.add(m.weight.detach().numpy()),
                        'bias': w.add(m.bias.detach().numpy())})
        elif isinstance(m, nn.PReLU):
            out.append({'op': 'prelu', 'alpha': w.add(m.weight.detach().numpy())})
        elif isinstance(m, nn.ReLU):
            out.append({'op': 'relu'})
        elif isinstance(m, nn.PixelShuffle):
            out.append({'op': 'pixel_shuffle', 'factor': m.upscale_factor})
        elif isinstance(m, nn.Upsample):
            assert m.mode == 'nearest'
            out.append({'op': 'upsample', 'factor': int(m.scale_factor)})
        else:
            raise TypeError('no Go counterpart for %r' % m)
    return out
