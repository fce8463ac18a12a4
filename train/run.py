"""A resumable training run, shared by both trainers: <run>/last.pt holds
the weights, the optimiser, the iteration, the time spent and both random
generators' states (written atomically every few minutes and at the end),
and <run>/log.txt is appended to, so that a stopped session loses little
and a resumed run draws the same patches as an uninterrupted one."""
import math
import os
import time

import torch


# The arguments a resumed run must share with its checkpoint: the rest
# (where to log, how often to save or evaluate, threads, device) change
# nothing in the weights.
SCHEDULE_AND_DATA = {'iters', 'batch', 'patch', 'crop', 'lr', 'seed', 'loss', 'channels', 'weight_decay',
                     'holdout', 'ema', 'extra'}


def cosine(lr, iters):
    """The learning rate at an iteration: cosine from lr down to 2% of it over iters."""
    return lambda it: lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(it, iters) / iters)))


class Run:
    def __init__(self, path, ckpt_seconds):
        os.makedirs(path, exist_ok=True)
        self.checkpoint = os.path.join(path, 'last.pt')
        self.every = ckpt_seconds
        self.log = open(os.path.join(path, 'log.txt'), 'a')
        self.iter, self.elapsed = 0, 0.0
        self.begin()

    def say(self, msg):
        self.log.write(msg + '\n')
        self.log.flush()

    def resume(self, modules, opt, rng, args, device='cpu'):
        """Loads last.pt, if any, into modules ({name: module}), opt and rng,
        refusing one started with other settings that shape the training;
        returns the checkpoint (None when starting afresh)."""
        if not os.path.exists(self.checkpoint):
            return None
        st = torch.load(self.checkpoint, map_location=device)
        changed = {k: (st['args'].get(k), v) for k, v in vars(args).items() if k in SCHEDULE_AND_DATA and st['args'].get(k) != v}
        if changed:
            # A different schedule or different draws from here on would
            # make a run that no single command reproduces.
            raise SystemExit('%s was started with other settings (checkpoint, now): %s; use another --run'
                             % (self.checkpoint, changed))
        for name, m in modules.items():
            m.load_state_dict(st[name])
        opt.load_state_dict(st['opt'])
        rng.bit_generator.state = st['rng']
        torch.set_rng_state(st['torch_rng'].cpu())
        self.iter, self.elapsed = st['iter'], st['elapsed']
        return st

    def begin(self):
        """Starts the clock (after the data is loaded, which is not training time)."""
        self._start, self._base, self._saved = time.time(), self.elapsed, time.time()

    def step(self):
        """Counts one iteration done and the time it took."""
        self.iter += 1
        self.elapsed = self._base + time.time() - self._start

    def save_if_due(self, modules, opt, rng, args, final):
        if not final and time.time() - self._saved <= self.every:
            return
        state = {name: m.state_dict() for name, m in modules.items()}
        state.update(opt=opt.state_dict(), iter=self.iter, elapsed=self.elapsed, rng=rng.bit_generator.state,
                     torch_rng=torch.get_rng_state(), args=vars(args))
        tmp = self.checkpoint + '.tmp'
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)
        self._saved = time.time()
