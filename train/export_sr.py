"""Exports the trained x2 SR network to internal/neural/models/sr_x2.nnw and
writes reference crops (input and PyTorch output) to testdata/neural/sr_x2_ref.nnw.

Usage: python3 export_sr.py [--run runs/sr]
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn

from common import SET5, load_rgb, modcrop, downscale_rgb, rgb_to_y
from nnw import Writer, layers_of
from srmodel import FSRCNN, count_params

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default=os.path.join(ROOT, 'train', 'runs', 'sr'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'internal', 'neural', 'models', 'sr_x2.nnw'))
    ap.add_argument('--ref', default=os.path.join(ROOT, 'testdata', 'neural', 'sr_x2_ref.nnw'))
    args = ap.parse_args()
    st = torch.load(os.path.join(args.run, 'last.pt'), map_location='cpu')
    model = FSRCNN()
    model.load_state_dict(st['model'])
    model.eval()
    scores = {}
    logp = os.path.join(args.run, 'log.txt')
    if os.path.exists(logp):  # the last Set5 score the trainer logged for these weights
        for line in open(logp):
            if 'set5_y_psnr' in line and int(line.split()[1]) == st['iter']:
                scores['set5_x2_y_psnr_logged'] = float(line.split()[3])
    w = Writer()
    body = list(model.body) + [model.up, nn.PixelShuffle(2)]
    header = {
        'model': 'fsrcnn-residual-bicubic-x2',
        'scale': 2,
        'input': 'BT.601 studio-range luma / 255 (16..235 -> 0.063..0.922), one channel',
        'output': 'residual added to the x2 bicubic (a=-0.5, edge-replicated) upsampling of the input',
        'params': count_params(model),
        'layers': layers_of(body, w),
        'provenance': {'trainer': 'train/train_sr.py', 'iterations': st['iter'],
                       'train_seconds': round(st['elapsed']), 'args': st['args'],
                       'data': 'train/README.md (training split)', **scores},
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    w.write(args.out, header)
    print('wrote', args.out, os.path.getsize(args.out), 'bytes')

    # Reference cases: small LR crops (one at an image corner, so zero
    # padding is exercised, and one odd-sized interior crop).
    rw, cases = Writer(), []
    hr = modcrop(load_rgb(SET5[1]), 2)  # bird
    y = (rgb_to_y(downscale_rgb(hr, 2)) / 255).astype(np.float32)
    for name, (i, j, h, ww) in [('corner', (0, 0, 40, 48)), ('interior', (37, 51, 33, 29))]:
        x = y[i:i + h, j:j + ww]
        with torch.no_grad():
            out = model(torch.from_numpy(x.copy())[None, None])[0, 0].numpy()
        cases.append({'name': name, 'input': [rw.add(x)[0], h, ww, 1],
                      'output': [rw.add(out)[0], 2 * h, 2 * ww, 1]})
    os.makedirs(os.path.dirname(args.ref), exist_ok=True)
    rw.write(args.ref, {'model': 'sr_x2.nnw', 'cases': cases,
                        'note': 'written by train/export_sr.py from the same weights'})
    print('wrote', args.ref)


if __name__ == '__main__':
    main()
