"""MATLAB-compatible imresize (bicubic, antialiased when shrinking).

The super-resolution literature makes its low-resolution inputs with MATLAB's
imresize(img, 1/scale, 'bicubic'); scores are only comparable when the same
kernel (a = -0.5), the same antialiasing (kernel stretched by 1/scale) and the
same border handling (symmetric index mirroring) are used. This is a port of
that function for 2-D/3-D numpy arrays (float64 in, float64 out).
"""
import numpy as np


def _cubic(x):
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _contributions(in_len, out_len, scale):
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)          # 1-based input coordinate
    left = np.floor(u - kernel_width / 2)
    p = int(np.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(p)[None, :]    # 1-based
    dist = u[:, None] - idx
    if antialias:
        w = scale * _cubic(dist * scale)
    else:
        w = _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    # symmetric mirroring of out-of-range indices, as MATLAB does
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    idx0 = (idx - 1).astype(np.int64) % (2 * in_len)
    idx0 = aux[idx0]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx0[:, keep]


def _resize_axis(a, axis, out_len, scale):
    w, idx = _contributions(a.shape[axis], out_len, scale)
    a = np.moveaxis(a, axis, 0)
    out = np.zeros((out_len,) + a.shape[1:], dtype=np.float64)
    for k in range(w.shape[1]):
        wk = w[:, k].reshape((-1,) + (1,) * (a.ndim - 1))
        out += wk * a[idx[:, k]]
    return np.moveaxis(out, 0, axis)


def imresize(img, scale=None, shape=None):
    """Resize an HxW or HxWxC float array by scale (or to shape=(h, w))."""
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    if shape is None:
        shape = (int(np.ceil(h * scale)), int(np.ceil(w * scale)))
        sh = sw = scale
    else:
        sh, sw = shape[0] / h, shape[1] / w
    # MATLAB resizes the dimension with the smaller scale first
    order = [0, 1] if sh <= sw else [1, 0]
    out = img
    for ax in order:
        out = _resize_axis(out, ax, shape[ax], sh if ax == 0 else sw)
    return out
