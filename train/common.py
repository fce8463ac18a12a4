"""Shared helpers: image loading, the training/evaluation split, BT.601 Y."""
import os
import numpy as np
from PIL import Image

from imresize import imresize

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.normpath(os.path.join(HERE, '..', '..', 'shared', 'testdata', 'images'))
if not os.path.isdir(IMAGES):  # worktrees sit beside /work/shared; allow an override
    IMAGES = os.environ.get('ENHANCE_IMAGES', '/work/shared/testdata/images')
CACHE = os.path.join(HERE, 'cache')
EXTRA = os.path.join(HERE, 'extra')  # fetch_extra.sh: photos from other Debian packages (colorization only)

# Training split (see README.md for licences). Set5, Set14 and kodim13-24 are
# evaluation only and are never read by the data set builder.
TRAIN_KODAK = ['kodak/kodim%02d.png' % i for i in range(1, 13)]
EVAL_KODAK = ['kodak/kodim%02d.png' % i for i in range(13, 25)]
SET5 = ['set5/%s.png' % n for n in ['baby', 'bird', 'butterfly', 'head', 'woman']]
SET14 = ['set14/%s.png' % n for n in ['baboon', 'barbara', 'bridge', 'coastguard', 'comic', 'face',
                                      'flowers', 'foreman', 'lenna', 'man', 'monarch', 'pepper',
                                      'ppt3', 'zebra']]


def train_files():
    cam = sorted('camera/' + f for f in os.listdir(os.path.join(IMAGES, 'camera')))
    return cam + TRAIN_KODAK


def extra_files():
    """The extra colorization photos (README.md, Data), as 'extra/<name>';
    empty until fetch_extra.sh has run."""
    if not os.path.isdir(EXTRA):
        return []
    return sorted('extra/' + f for f in os.listdir(EXTRA))


def load_rgb(rel):
    """uint8 HxWx3 (gray images are replicated to three channels)."""
    root = HERE if rel.startswith('extra/') else IMAGES
    im = Image.open(os.path.join(root, rel))
    return np.asarray(im.convert('RGB'), dtype=np.uint8)


def rgb_to_y(rgb):
    """BT.601 studio-range luma as MATLAB's rgb2ycbcr, in [16, 235] for uint8 input (float)."""
    rgb = np.asarray(rgb, dtype=np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def modcrop(img, scale):
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def to_uint8(a):
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def downscale_rgb(rgb_u8, scale):
    """The literature's LR image: MATLAB bicubic 1/scale on uint8 RGB, rounded to uint8."""
    return to_uint8(imresize(rgb_u8.astype(np.float64), 1.0 / scale))


def psnr_y(a_y, b_y, border):
    """Y-PSNR (peak 255) after cropping `border` pixels on each side."""
    a = a_y[border:-border, border:-border] if border else a_y
    b = b_y[border:-border, border:-border] if border else b_y
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)
