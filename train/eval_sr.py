"""Scores the x2 SR network on Set5 and Set14 (never trained on), as the
literature does: HR cropped to a multiple of 2, LR = MATLAB imresize
(bicubic, antialiased) of the uint8 RGB, rounded to uint8; the network
enlarges the LR luma (BT.601 studio range), chroma is enlarged by MATLAB
bicubic, the result rounded to uint8 RGB, and Y-PSNR/SSIM-free scores are
taken on its luma with 2 pixels cropped from each border. Bicubic is
MATLAB imresize x2 of the same LR.

Usage: python3 eval_sr.py [--run runs/sr]
"""
import argparse
import os

import numpy as np
import torch

from common import SET5, SET14, load_rgb, modcrop, downscale_rgb, rgb_to_y, psnr_y, to_uint8
from imresize import imresize
from srmodel import FSRCNN


def ycbcr(rgb):
    r, g, b = [rgb[..., i].astype(np.float64) / 255 for i in range(3)]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return y, cb, cr


def to_rgb(y, cb, cr):
    y, cb, cr = y - 16, cb - 128, cr - 128
    r = 255 / 219 * y + 255 / 224 * 1.402 * cr
    g = 255 / 219 * y - 255 / 224 * (1.772 * 0.114 / 0.587) * cb - 255 / 224 * (1.402 * 0.299 / 0.587) * cr
    b = 255 / 219 * y + 255 / 224 * 1.772 * cb
    return to_uint8(np.stack([r, g, b], -1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'sr'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = FSRCNN()
    st = torch.load(os.path.join(args.run, 'last.pt'), map_location='cpu')
    model.load_state_dict(st['model'])
    model.eval()
    print('checkpoint iter %d, %.0f s of training' % (st['iter'], st['elapsed']))
    for name, files in [('Set5', SET5), ('Set14', SET14)]:
        ours, bic = [], []
        for rel in files:
            hr = modcrop(load_rgb(rel), 2)
            lr = downscale_rgb(hr, 2)
            y, cb, cr = ycbcr(lr)
            with torch.no_grad():
                sy = model(torch.from_numpy((y / 255).astype(np.float32))[None, None])[0, 0].numpy() * 255
            out = to_rgb(sy, imresize(cb, 2.0), imresize(cr, 2.0))
            ours.append(psnr_y(rgb_to_y(out), rgb_to_y(hr), 2))
            bic.append(psnr_y(rgb_to_y(to_uint8(imresize(lr.astype(np.float64), 2.0))), rgb_to_y(hr), 2))
        print('%s x2 Y-PSNR: bicubic %.2f dB, ours %.2f dB (%+.2f)' % (name, np.mean(bic), np.mean(ours), np.mean(ours) - np.mean(bic)))


if __name__ == '__main__':
    main()
