"""Trains the colorization network (colormodel.ColorNet) on the training split.

Usage: python3 train_color.py [--iters N] [--run runs/color] [--seed 1]
Resumes from <run>/last.pt. Images are shrunk (MATLAB bicubic) so their
long side is 160, 192, 256, 384 or 512 pixels (the larger ones give
many more distinct crops of surfaces and their colours from so few photos), converted to CIELAB, and cut into
random 80x80 crops with horizontal flips. The loss is the mean square
error on ab/100 at a quarter of the crop's size (ab averaged over 4x4
blocks): where a colour is uncertain it predicts the mean, nearer gray,
which costs less colour error than a confident wrong hue (L1, the median,
scored worse than the gray image on kodim13-24). Three training photos
(--holdout) are kept out to choose a shrink factor on the predicted ab
(shrink_factor), which export_color.py folds into the last layer, and to
keep the weights that colour them best (best.pt, checked every
--val-every iterations), which export_color.py exports.
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F

import dataset
from colormodel import ColorNet, WORK_SIDE
from common import CACHE, extra_files, to_uint8
from imresize import imresize
from lab import rgb_to_lab
from run import Run, cosine

SIDES = [160, 192, 256, 384, 512]


def lab_images(extra=False):
    """{(image, side): Lab float32} for every training image at every side;
    with extra, also the photos fetch_extra.sh put in train/extra/."""
    out = _lab_cached('color_lab_%s.npz' % '-'.join(map(str, SIDES)), dataset.load)
    if extra:
        files = extra_files()
        if not files:
            raise SystemExit('--extra: train/extra/ is empty; run train/fetch_extra.sh first')
        out.update(_lab_cached('color_lab_extra%d_%s.npz' % (len(files), '-'.join(map(str, SIDES))),
                               lambda: {rel: dataset.prepare(rel) for rel in files}))
    return out


def _lab_cached(name, load):
    path = os.path.join(CACHE, name)
    if os.path.exists(path):
        d = np.load(path)
        return {(k.rsplit('@', 1)[0], int(k.rsplit('@', 1)[1])): d[k] for k in d.files}
    out = {}
    for rel, rgb in load().items():
        h, w = rgb.shape[:2]
        for side in SIDES:
            s = side / max(h, w)
            small = to_uint8(imresize(rgb.astype(np.float64), shape=(round(h * s), round(w * s))))
            out[(rel, side)] = rgb_to_lab(small / 255.0).astype(np.float32)
    os.makedirs(CACHE, exist_ok=True)
    np.savez(path, **{'%s@%d' % k: a for k, a in out.items()})
    return out


def shrink_factor(model, images):
    """The factor on predicted ab that minimises mean CIEDE2000 on images
    (held-out training photos at the working size): regression to the mean
    is right on average but confidently wrong on photos unlike the
    training set, and a gray-ward shrink pays on those."""
    from lab import ciede2000
    preds = []
    with torch.no_grad():
        for lab in images:
            ab = model(torch.from_numpy(lab[None, None, :, :, 0] / 100)) * 100
            ab = F.interpolate(ab, size=lab.shape[:2], mode='bilinear', align_corners=False)[0].permute(1, 2, 0).numpy()
            preds.append((lab, ab))
    best = None
    for alpha in np.arange(0, 1.51, 0.05):
        de = np.mean([ciede2000(lab, np.concatenate([lab[..., :1], alpha * ab], -1)).mean() for lab, ab in preds])
        if best is None or de < best[1]:
            best = (float(alpha), float(de))
    gray = np.mean([ciede2000(lab, np.concatenate([lab[..., :1], 0 * ab], -1)).mean() for lab, ab in preds])
    return best[0], best[1], float(gray)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--crop', type=int, default=80)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--run', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'color'))
    ap.add_argument('--ckpt-seconds', type=float, default=180)
    ap.add_argument('--loss', choices=['l1', 'mse'], default='mse')
    ap.add_argument('--val-every', type=int, default=250)
    ap.add_argument('--channels', type=int, default=32, help='width of the quarter-size layers')
    ap.add_argument('--weight-decay', type=float, default=1e-4)
    ap.add_argument('--holdout', default='kodak/kodim10.png,kodak/kodim11.png,kodak/kodim12.png',
                    help='training photos kept out to choose the shrink factor')
    ap.add_argument('--ema', type=float, default=0,
                    help='if > 0, the decay of a running average of the weights, which is what is validated and kept')
    ap.add_argument('--extra', action='store_true',
                    help='also train on the photos from other Debian packages (fetch_extra.sh, README.md)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = ColorNet(args.channels)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    # The weights after any one step of batch 16 are noisy (the held-out
    # score jumps between checkpoints); their running average is not.
    avg = ColorNet(args.channels) if args.ema > 0 else model
    if args.ema > 0:
        avg.load_state_dict(model.state_dict())
    saved = {'model': model, 'avg': avg}
    sched = cosine(args.lr, args.iters)
    rng = np.random.default_rng(args.seed)
    run = Run(args.run, args.ckpt_seconds)
    run.resume(saved if args.ema > 0 else {'model': model}, opt, rng, args)
    held = set(args.holdout.split(',')) if args.holdout else set()
    by_name = lab_images(args.extra)
    # (a crop larger than a small scale's short side skips that scale of that image)
    imgs = [a for (rel, _), a in sorted(by_name.items()) if rel not in held and min(a.shape[:2]) >= args.crop]
    val = [a for (rel, side), a in sorted(by_name.items()) if rel in held and side == WORK_SIDE]
    area = np.array([a.shape[0] * a.shape[1] for a in imgs], np.float64)
    prob = area / area.sum()
    run.say('start iter=%d params=%d args=%s' % (run.iter, sum(p.numel() for p in model.parameters()), vars(args)))
    run_loss, steps = 0.0, 0
    run.begin()
    c = args.crop
    while run.iter < args.iters:
        for g in opt.param_groups:
            g['lr'] = sched(run.iter)
        batch = np.empty((args.batch, c, c, 3), np.float32)
        for b in range(args.batch):
            lab = imgs[rng.choice(len(imgs), p=prob)]
            i = rng.integers(0, lab.shape[0] - c + 1)
            j = rng.integers(0, lab.shape[1] - c + 1)
            crop = lab[i:i + c, j:j + c]
            batch[b] = crop[:, ::-1] if rng.integers(0, 2) else crop
        t = torch.from_numpy(batch).permute(0, 3, 1, 2)
        x = t[:, :1] / 100
        y = F.avg_pool2d(t[:, 1:] / 100, 4)
        loss = (F.l1_loss if args.loss == 'l1' else F.mse_loss)(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if args.ema > 0:
            with torch.no_grad():
                for pa, p in zip(avg.parameters(), model.parameters()):
                    pa.mul_(args.ema).add_(p, alpha=1 - args.ema)
        run.step()
        it, elapsed = run.iter, run.elapsed
        run_loss += loss.item()
        steps += 1
        if it % 100 == 0:
            run.say('iter %d loss %.5f lr %.2e elapsed %.0fs' % (it, run_loss / steps, sched(it), elapsed))
            run_loss, steps = 0.0, 0
        if val and (it % args.val_every == 0 or it == args.iters):
            # Early stopping on the held-out training photos: the weights
            # kept are those that colour them best (after the shrink).
            avg.eval()
            alpha, de, gray = shrink_factor(avg, val)
            avg.train()
            run.say('iter %d held-out dE00 %.3f at shrink %.2f (gray %.3f)' % (it, de, alpha, gray))
            best_path = os.path.join(args.run, 'best.pt')
            prev = torch.load(best_path)['held_out_de'] if os.path.exists(best_path) else None
            if prev is None or de < prev:
                torch.save({'model': avg.state_dict(), 'iter': it, 'elapsed': elapsed, 'args': vars(args),
                            'shrink': alpha, 'held_out_de': de, 'held_out_gray_de': gray}, best_path)
        # After the validation: a run stopped during it checks this
        # iteration's weights again when resumed.
        run.save_if_due(saved, opt, rng, args, final=it == args.iters)
    if val:
        avg.eval()
        alpha, de, gray = shrink_factor(avg, val)
        st = torch.load(run.checkpoint)
        st['shrink'] = alpha
        torch.save(st, run.checkpoint)
        run.say('shrink %.2f: held-out mean dE00 %.3f (gray %.3f)' % (alpha, de, gray))
    run.say('done iter=%d elapsed=%.0fs' % (run.iter, run.elapsed))


if __name__ == '__main__':
    main()
