"""Builds the training cache from the training split only (see README.md).

Each camera photo is first shrunk (MATLAB bicubic, antialiased) so its long
side is at most LONG_SIDE pixels: the large ones are recompressed JPEGs whose
8x8 block artefacts the network would otherwise learn to reproduce, and the
shrink also brings their detail density near the Kodak scans'. Kodak images
are used as they are. For each image the cache holds the uint8 RGB high-
resolution image; the SR and colorization trainers derive what they need.
"""
import multiprocessing
import os
import sys
import numpy as np

from common import CACHE, train_files, load_rgb, to_uint8
from imresize import imresize

LONG_SIDE = 1536


def build():
    os.makedirs(CACHE, exist_ok=True)
    out = os.path.join(CACHE, 'train_rgb.npz')
    if os.path.exists(out):
        return out
    files = train_files()
    with multiprocessing.Pool() as pool:  # one photo a process: the shrink is slow
        arrays = dict(zip(files, pool.map(prepare, files)))
    for rel, rgb in arrays.items():
        print('%-45s %dx%d' % (rel, rgb.shape[1], rgb.shape[0]), flush=True)
    np.savez(out, **arrays)
    return out


def prepare(rel):
    rgb = load_rgb(rel)
    h, w = rgb.shape[:2]
    if max(h, w) > LONG_SIDE:
        s = LONG_SIDE / max(h, w)
        shape = (int(round(h * s)), int(round(w * s)))
        rgb = to_uint8(imresize(rgb.astype(np.float64), shape=shape))
    return rgb


def load():
    d = np.load(build())
    return {k: d[k] for k in d.files}


if __name__ == '__main__':
    build()
    sys.exit(0)
