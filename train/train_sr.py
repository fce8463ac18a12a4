"""Trains the x2 super-resolution network (srmodel.FSRCNN) on the training split.

Usage: python3 train_sr.py [--iters N] [--batch B] [--run runs/sr] [--seed 1] [--device cpu|cuda]
Resumes from <run>/last.pt when present. The same command trains on a CPU
or, with --device cuda, on a GPU: the initial weights and every patch come
from the same generators either way (only the arithmetic's rounding differs). Checkpoints every --ckpt-seconds;
logs loss and Set5 Y-PSNR (monitoring only: the weights exported are the
final ones, never picked by an evaluation score) to <run>/log.txt.
"""
import argparse
import multiprocessing
import os

import numpy as np
import torch
import torch.nn.functional as F

import dataset
from common import SET5, load_rgb, modcrop, downscale_rgb, rgb_to_y, psnr_y
from run import Run, cosine
from srmodel import FSRCNN, count_params

SCALE = 2


def sr_pair(rgb):
    hr = modcrop(rgb, SCALE)
    lr = downscale_rgb(hr, SCALE)
    return (rgb_to_y(lr) / 255).astype(np.float32), (rgb_to_y(hr) / 255).astype(np.float32)


def sr_pairs():
    """(LR Y, HR Y) float32 in [0,1] per training image; LR via MATLAB bicubic on uint8 RGB."""
    path = os.path.join(dataset.CACHE, 'sr_x2.npz')
    if os.path.exists(path):
        d = np.load(path)
        n = len(d.files) // 2
        return [(d['lr%d' % i], d['hr%d' % i]) for i in range(n)]
    with multiprocessing.Pool() as pool:
        pairs = pool.map(sr_pair, dataset.load().values())
    np.savez(path, **{('lr%d' % i): p[0] for i, p in enumerate(pairs)},
             **{('hr%d' % i): p[1] for i, p in enumerate(pairs)})
    return pairs


class Sampler:
    def __init__(self, pairs, patch, rng):
        self.pairs, self.patch, self.rng = pairs, patch, rng
        area = np.array([p[0].size for p in pairs], np.float64)
        self.prob = area / area.sum()

    def batch(self, n):
        lp = self.patch // SCALE
        xs, ys = np.empty((n, 1, lp, lp), np.float32), np.empty((n, 1, self.patch, self.patch), np.float32)
        picks = self.rng.choice(len(self.pairs), size=n, p=self.prob)
        where = self.rng.random((n, 2))
        turns = self.rng.integers(0, 8, size=n)  # the eight flips/rotations
        for b, (p, (u, v), k) in enumerate(zip(picks, where, turns)):
            lr, hr = self.pairs[p]
            i = int(u * (lr.shape[0] - lp + 1))
            j = int(v * (lr.shape[1] - lp + 1))
            x = lr[i:i + lp, j:j + lp]
            y = hr[i * SCALE:(i + lp) * SCALE, j * SCALE:(j + lp) * SCALE]
            if k & 1:
                x, y = x[:, ::-1], y[:, ::-1]
            if k & 2:
                x, y = x[::-1], y[::-1]
            if k & 4:
                x, y = x.T, y.T
            xs[b, 0], ys[b, 0] = x, y
        return torch.from_numpy(xs), torch.from_numpy(ys)


def set5_eval(model, device):
    model.eval()
    scores = []
    with torch.no_grad():
        for rel in SET5:
            hr = modcrop(load_rgb(rel), SCALE)
            lr = downscale_rgb(hr, SCALE)
            x = torch.from_numpy((rgb_to_y(lr) / 255).astype(np.float32))[None, None].to(device)
            y = model(x)[0, 0].clamp(0, 1).cpu().numpy() * 255
            scores.append(psnr_y(y, rgb_to_y(hr), SCALE))
    model.train()
    return float(np.mean(scores))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=60000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--patch', type=int, default=72)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--run', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'runs', 'sr'))
    ap.add_argument('--ckpt-seconds', type=float, default=180)
    ap.add_argument('--eval-every', type=int, default=2000)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # Same algorithms on every run of a GPU: reproducible, a little slower.
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    pairs = sr_pairs()  # before CUDA starts: the data is built in forked processes
    torch.manual_seed(args.seed)
    model = FSRCNN().to(device)  # initialised on the CPU's generator, then moved
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = cosine(args.lr, args.iters)
    rng = np.random.default_rng(args.seed)
    run = Run(args.run, args.ckpt_seconds)
    run.resume({'model': model}, opt, rng, args, device)
    sampler = Sampler(pairs, args.patch, rng)
    run.say('start iter=%d params=%d args=%s' % (run.iter, count_params(model), vars(args)))
    run_loss, steps = torch.zeros((), device=device), 0  # read every 200 iterations: no sync per step
    run.begin()
    while run.iter < args.iters:
        for g in opt.param_groups:
            g['lr'] = sched(run.iter)
        x, y = sampler.batch(args.batch)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.l1_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.step()
        it, elapsed = run.iter, run.elapsed
        run_loss += loss.detach()
        steps += 1
        if it % 200 == 0:
            run.say('iter %d loss %.5f lr %.2e elapsed %.0fs' % (it, run_loss.item() / steps, sched(it), elapsed))
            run_loss.zero_()
            steps = 0
        if it % args.eval_every == 0 or it == args.iters:
            run.say('iter %d set5_y_psnr %.3f elapsed %.0fs' % (it, set5_eval(model, device), elapsed))
        run.save_if_due({'model': model}, opt, rng, args, final=it == args.iters)
    run.say('done iter=%d elapsed=%.0fs' % (run.iter, run.elapsed))


if __name__ == '__main__':
    main()
