#!/usr/bin/python3
"""Benchmark images for prep: ImageNet-layout JPEG tiles cut from real photographs.

usage: bench/prep/make_tiles.py OUT_DIR [--per-class N] [--classes C] [--seed S]

Writes OUT_DIR/{train,val}/<wnid>/<wnid>_<i>.JPEG, N per class and split, at the sizes ImageNet's photos come in
(500x375, 375x500, 500x333, 400x400, 640x480), JPEG quality 90, and a synset_words.txt. Each tile is a random
crop of a randomly scaled (15-50 %) photograph, flipped half the time, so decode and resize costs look like
ImageNet's. Deterministic for a seed. Photographs: the Debian package mate-backgrounds (13 nature photographs);
Pillow: python3-pil. bench/prep/run.sh installs both when missing.
"""
import argparse
import glob
import os
import random
import sys

from PIL import Image

SIZES = [(500, 375), (375, 500), (500, 333), (400, 400), (640, 480)]
PHOTOS = "/usr/share/backgrounds/mate/nature/*.jpg"


def tile(photo, rng):
    """One ImageNet-sized crop of the photograph at a random scale."""
    scale = rng.uniform(0.15, 0.5)
    w, h = max(1, int(photo.width * scale)), max(1, int(photo.height * scale))
    tw, th = rng.choice(SIZES)
    tw, th = min(tw, w), min(th, h)
    x, y = rng.randrange(w - tw + 1), rng.randrange(h - th + 1)
    out = photo.resize((w, h), Image.BILINEAR).crop((x, y, x + tw, y + th))
    return out.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--seed", type=int, default=2026)
    a = p.parse_args()
    files = sorted(glob.glob(PHOTOS))
    if not files:
        sys.exit("make_tiles: no photographs at %s: apt-get install -y mate-backgrounds python3-pil" % PHOTOS)
    photos = [Image.open(f).convert("RGB") for f in files]
    rng = random.Random(a.seed)
    wnids = ["n%08d" % (1440764 + 17 * c) for c in range(a.classes)]
    n = 0
    for split in ("train", "val"):
        for wnid in wnids:
            d = os.path.join(a.out, split, wnid)
            os.makedirs(d, exist_ok=True)
            for i in range(a.per_class):
                tile(photos[rng.randrange(len(photos))], rng).save(os.path.join(d, "%s_%d.JPEG" % (wnid, i)), "JPEG", quality=90)
                n += 1
    with open(os.path.join(a.out, "synset_words.txt"), "w") as f:
        f.writelines("%s photo tiles %d\n" % (w, c) for c, w in enumerate(wnids))
    print("make_tiles: wrote %d tiles under %s" % (n, a.out))


if __name__ == "__main__":
    main()
