"""Scores the colorization network alone on kodim13-24 made gray (never
trained on): each photo's L goes in at the working size, the quarter-size
ab comes out, is enlarged (bilinear) and recombined with the full-size L.
Prints PSNR (RGB), mean CIEDE2000 and colourfulness against the original,
next to the gray image's and a constant tint's (the training photos' mean ab,
scaled by the factor that suits the run's held-out photos best: what a
network that ignores the picture could reach), and how much the predicted
ab varies within a photo and between photos (a network whose colours do
not vary has learned a tint, not colorization). The service's own numbers (guided upsampling,
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


def constant_tint(args):
    """The training photos' mean ab (the run's own training photos, at the
    working size) and the factor on it that minimises mean CIEDE2000 on the
    run's held-out photos."""
    import train_color
    held = set(args['holdout'].split(',')) if args.get('holdout') else set()
    by_name = train_color.lab_images(args.get('extra', False))
    train = [a for (rel, side), a in by_name.items() if side == WORK_SIDE and rel not in held]
    val = [a for (rel, side), a in by_name.items() if side == WORK_SIDE and rel in held]
    ab = np.mean([a[..., 1:].reshape(-1, 2).mean(0) for a in train], 0)
    scores = [(np.mean([ciede2000(l, np.concatenate([l[..., :1], np.broadcast_to(f * ab, l.shape[:2] + (2,))], -1)).mean()
                        for l in val]), f) for f in np.arange(0, 1.51, 0.05)]
    return min(scores)[1] * ab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'color'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    st = torch.load(os.path.join(args.run, 'best.pt'), map_location='cpu')
    model = ColorNet(st['args'].get('channels', 32))
    model.load_state_dict(st['model'])
    model.eval()
    shrink = st.get('shrink', 1.0)
    tint = constant_tint(st['args'])
    rows, spread = [], []
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
            flat = ab[0].numpy().reshape(2, -1)
            spread.append((flat.mean(1), flat.std(1)))
            ab = F.interpolate(ab, size=(h, w), mode='bilinear', align_corners=False)[0].permute(1, 2, 0).numpy()
        ours_lab = np.concatenate([lab[..., :1], ab], -1)
        ours = lab_to_rgb(ours_lab)
        ours_lab = rgb_to_lab(ours)  # after clamping to the sRGB gamut
        tint_lab = lab.copy()
        tint_lab[..., 1:] = tint
        tinted = lab_to_rgb(tint_lab)
        rows.append([psnr(gray, rgb), ciede2000(lab, rgb_to_lab(gray)).mean(), colourfulness(gray),
                     psnr(ours, rgb), ciede2000(lab, ours_lab).mean(), colourfulness(ours), colourfulness(rgb),
                     psnr(tinted, rgb), ciede2000(lab, rgb_to_lab(tinted)).mean(), colourfulness(tinted)])
        print('%s gray %.2f dB dE %.2f | ours %.2f dB dE %.2f C %.1f (orig %.1f)' % (
            rel, rows[-1][0], rows[-1][1], rows[-1][3], rows[-1][4], rows[-1][5], rows[-1][6]), flush=True)
    m = np.mean(rows, 0)
    print('mean: gray PSNR %.2f dB, dE00 %.2f, colourfulness %.1f | ours PSNR %.2f dB, dE00 %.2f, colourfulness %.1f | original colourfulness %.1f'
          % tuple(m[:7]))
    print('constant tint a %.2f b %.2f: PSNR %.2f dB, dE00 %.2f, colourfulness %.1f' % ((tint[0], tint[1]) + tuple(m[7:])))
    means = np.array([mu for mu, _ in spread])
    print('predicted ab (a, b): mean %.2f %.2f; std within a photo %.2f %.2f; std of the photos\' means %.2f %.2f' % (
        tuple(means.mean(0)) + tuple(np.mean([sd for _, sd in spread], 0)) + tuple(means.std(0))))


if __name__ == '__main__':
    main()
