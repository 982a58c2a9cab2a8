#!/usr/bin/python3
"""Pillow baseline for the prep benchmark, one process (= one core).

usage: pillow_prep.py DIR MODE [--runs N] [--short 320] [--keep 640] [--quality 95]
MODE: decode   full-size decode only (the libjpeg-turbo bound)
      reencode decode (with draft DCT scaling), resize shorter side to --short, encode JPEG --quality: every file
      policy   what prep stores: originals up to --keep validated by a 1/8 draft decode, larger ones as reencode
Prints the median images/s over --runs passes (after one warm-up pass that also reads the files into memory).
"""
import glob, io, os, statistics, sys, time
from PIL import Image

def reencode(b, short, q):
    im = Image.open(io.BytesIO(b))
    w, h = im.size
    s = min(w, h)
    if s > short:
        im.draft('RGB', (max(1, w * short // s), max(1, h * short // s)))  # DCT scaling, never below target
    im = im.convert('RGB')
    w, h = im.size
    s = min(w, h)
    if s > short:
        im = im.resize((round(w * short / s), round(h * short / s)), Image.BOX)
    out = io.BytesIO()
    im.save(out, 'JPEG', quality=q)
    return out.getvalue()

def main():
    a = sys.argv[1:]
    d, mode = a[0], a[1]
    opt = lambda k, v: type(v)(a[a.index(k) + 1]) if k in a else v
    runs, short, keep, q = opt('--runs', 5), opt('--short', 320), opt('--keep', 640), opt('--quality', 95)
    files = sorted(glob.glob(os.path.join(d, '**', '*.JPEG'), recursive=True))
    data = [open(f, 'rb').read() for f in files]
    def one(b):
        if mode == 'decode':
            im = Image.open(io.BytesIO(b)); im.load(); return b
        if mode == 'reencode':
            return reencode(b, short, q)
        im = Image.open(io.BytesIO(b))
        if min(im.size) <= keep and im.mode == 'RGB':
            im.draft('RGB', (im.size[0] // 8, im.size[1] // 8)); im.load(); return b
        return reencode(b, short, q)
    for b in data: one(b)
    rates, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = sum(len(one(b)) for b in data)
        rates.append(len(data) / (time.perf_counter() - t))
    print(f'pillow {mode}: {statistics.median(rates):.0f} images/s (median of {runs}; runs {[round(r) for r in rates]}), '
          f'{len(data)} files, stored {size / len(data) / 1024:.1f} KiB/image, input {sum(map(len, data)) / len(data) / 1024:.1f} KiB/image')

if __name__ == '__main__':
    main()
