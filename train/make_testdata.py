"""Writes the Go quality-floor inputs to testdata/neural: two Set5 images
(bird, butterfly) shrunk x2 exactly as the literature does (MATLAB
imresize bicubic of the uint8 RGB), and butterfly's high-resolution
original (bird's is testdata/images/bird.png already)."""
import os
import shutil

from PIL import Image

from common import IMAGES, load_rgb, modcrop, downscale_rgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'testdata', 'neural')

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for n in ['bird', 'butterfly']:
        hr = modcrop(load_rgb('set5/%s.png' % n), 2)
        Image.fromarray(downscale_rgb(hr, 2)).save(os.path.join(OUT, '%s_x2_lr.png' % n))
    shutil.copy(os.path.join(IMAGES, 'set5', 'butterfly.png'), os.path.join(OUT, 'butterfly.png'))
