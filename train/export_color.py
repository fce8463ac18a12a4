"""Exports the colorization network to internal/neural/models/colorize.nnw
and reference inputs/outputs to testdata/neural/colorize_ref.nnw.

Usage: python3 export_color.py [--run runs/color]
"""
import argparse
import os

import numpy as np
import torch

from colormodel import ColorNet, WORK_SIDE
from common import TRAIN_KODAK, load_rgb
from lab import rgb_to_lab
from nnw import Writer, layers_of

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default=os.path.join(ROOT, 'train', 'runs', 'color'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'internal', 'neural', 'models', 'colorize.nnw'))
    ap.add_argument('--ref', default=os.path.join(ROOT, 'testdata', 'neural', 'colorize_ref.nnw'))
    args = ap.parse_args()
    st = torch.load(os.path.join(args.run, 'best.pt'), map_location='cpu')
    model = ColorNet(st['args'].get('channels', 32))
    model.load_state_dict(st['model'])
    model.eval()
    shrink = st.get('shrink', 1.0)
    with torch.no_grad():  # the held-out shrink factor, folded into the last (linear) layer
        model[-1].weight.mul_(shrink)
        model[-1].bias.mul_(shrink)
    w = Writer()
    header = {
        'model': 'colorize-lab-ab', 'work_side': WORK_SIDE, 'reduction': 4,
        'input': 'CIELAB L / 100 (D65, sRGB), one channel, about work_side pixels on the long side',
        'output': 'CIELAB a / 100 and b / 100 at a quarter of the input size (rounded up)',
        'params': sum(p.numel() for p in model.parameters()),
        'layers': layers_of(model, w),
        'provenance': {'trainer': 'train/train_color.py', 'iterations': st['iter'],
                       'train_seconds': round(st['elapsed']), 'args': st['args'], 'shrink': shrink,
                       'data': 'train/README.md (training split' + (' and the extra photos' if st['args'].get('extra') else '') + ')'},
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    w.write(args.out, header)
    print('wrote', args.out, os.path.getsize(args.out), 'bytes')
    # References: L of two odd-sized crops of a training photo.
    rw, cases = Writer(), []
    lab = rgb_to_lab(load_rgb(TRAIN_KODAK[2]) / 255.0).astype(np.float32)  # kodim03
    for name, (i, j, h, ww) in [('corner', (0, 0, 45, 62)), ('interior', (101, 230, 38, 51))]:
        x = lab[i:i + h, j:j + ww, 0] / 100
        with torch.no_grad():
            out = model(torch.from_numpy(x.copy())[None, None])[0].permute(1, 2, 0).numpy()
        cases.append({'name': name, 'input': [rw.add(x)[0], h, ww, 1],
                      'output': [rw.add(out)[0], out.shape[0], out.shape[1], 2]})
    os.makedirs(os.path.dirname(args.ref), exist_ok=True)
    rw.write(args.ref, {'model': 'colorize.nnw', 'cases': cases,
                        'note': 'written by train/export_color.py from the same weights; input is L/100, output ab/100'})
    print('wrote', args.ref)


if __name__ == '__main__':
    main()
