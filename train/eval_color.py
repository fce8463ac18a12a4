"""Scores the colorization network alone on kodim13-24 made gray (never
trained on): each photo's L goes in at the working size, the quarter-size
ab comes out, is enlarged (bilinear) and recombined with the full-size L.
Prints PSNR (RGB), mean CIEDE2000 and colourfulness against the original,
next to the gray image's. The service's own numbers (guided upsampling,
BT.601 luma kept) come from `go run ./bench -only learned`.

Usage: python3 eval_color.py [--run runs/color]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F

from colormodel import ColorNet, WORK_SIDE
from common import EVAL_KODAK, load_rgb, to_uint8
from imresize import imresize
from lab import rgb_to_lab, lab_to_rgb, ciede2000, colourfulness


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'color'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    st = torch.load(os.path.join(args.run, 'best.pt'))
    model = ColorNet(st['args'].get('channels', 32))
    model.load_state_dict(st['model'])
    model.eval()
    shrink = st.get('shrink', 1.0)
    rows = []
    for rel in EVAL_KODAK:
        rgb = load_rgb(rel) / 255.0
        lab = rgb_to_lab(rgb)
        gray_lab = lab.copy()
        gray_lab[..., 1:] = 0
        gray = lab_to_rgb(gray_lab)
        h, w = rgb.shape[:2]
        s = WORK_SIDE / max(h, w)
        small = to_uint8(imresize(gray * 255, shape=(round(h * s), round(w * s)))) / 255.0
        L = rgb_to_lab(small)[..., 0].astype(np.float32)
        with torch.no_grad():
            ab = model(torch.from_numpy(L / 100)[None, None]) * 100 * shrink
            ab = F.interpolate(ab, size=(h, w), mode='bilinear', align_corners=False)[0].permute(1, 2, 0).numpy()
        ours_lab = np.concatenate([lab[..., :1], ab], -1)
        ours = lab_to_rgb(ours_lab)
        ours_lab = rgb_to_lab(ours)  # after clamping to the sRGB gamut
        rows.append([psnr(gray, rgb), ciede2000(lab, rgb_to_lab(gray)).mean(), colourfulness(gray),
                     psnr(ours, rgb), ciede2000(lab, ours_lab).mean(), colourfulness(ours), colourfulness(rgb)])
        print('%s gray %.2f dB dE %.2f | ours %.2f dB dE %.2f C %.1f (orig %.1f)' % (
            rel, rows[-1][0], rows[-1][1], rows[-1][3], rows[-1][4], rows[-1][5], rows[-1][6]), flush=True)
    m = np.mean(rows, 0)
    print('mean: gray PSNR %.2f dB, dE00 %.2f, colourfulness %.1f | ours PSNR %.2f dB, dE00 %.2f, colourfulness %.1f | original colourfulness %.1f'
          % tuple(m))


if __name__ == '__main__':
    main()
