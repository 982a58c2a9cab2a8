#!/usr/bin/python3
"""Codebook usage of the demo tokenizer's PyTorch twin on Fashion-MNIST at 32 px, for finding what keeps codes dead.

The twin of bench/torch/twins.py (same sizes as conf/demo.conf's tokenizer), the codebook initialised from the
untrained encoder's outputs on 64 train images (tokenizer.stage.codebook-init = data), AdamW at --lr with linear
warm-up over the first quarter and cosine to 0.2x (the demo's schedule), optional latent perturbation (beta = 10%
of the images, every token replaced by a code drawn from its 100 nearest: the demo's first epoch), optional
parameter averaging of --workers copies every 5 steps (the trainer), EMA of the weights. Every --every steps it
prints val PSNR and codebook usage on 256 (or --val) val images for the raw and the EMA weights.

--init java gives every linear layer this project's initialisation (weights N(0, 0.02), zero biases; PyTorch's
default otherwise). --head-init mean sets the decoder head's bias to the mean pixel patch of the 64 init images
(tokenizer.stage.head-init = mean); mean-zero also zeroes the head's weights.

Usage: tokenizer_usage.py --steps 1250 [--batch 32] [--workers 2] [--perturb] [--lr 2e-3] [--threads 1]
       [--init java] [--head-init mean|mean-zero] [--trace N] [--stop N]
--trace N prints, every N steps, how many codes 64 val images use and the length of the mean of their (unit) encoder
outputs: 1.0 means every output points the same way (the collapse).
"""
import argparse
import copy
import gzip
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twins import Tokenizer, torch, F  # noqa: E402 (twins exits with a message without torch)


def load(split, raw=False):
    with gzip.open(f"/usr/share/datasets/fashion-mnist/{split}-images-idx3-ubyte.gz") as f:
        x = torch.frombuffer(bytearray(f.read()[16:]), dtype=torch.uint8).reshape(-1, 1, 28, 28).float()
    if raw:
        return x
    x = F.pad(x, (2, 2, 2, 2)) / 127.5 - 1
    return x.expand(-1, 3, -1, -1).contiguous()


def upscale(x, side):
    """28 px uint8-valued images to side x side as the project's ImageBatcher does (OpenCV cubic), in [-1, 1]."""
    y = F.interpolate(x, size=(side, side), mode="bicubic", align_corners=False).round().clamp(0, 255)
    return (y / 127.5 - 1).expand(-1, 3, -1, -1).contiguous()


def augment(raw, size=32, max_side=40):
    """The project's train transform: shorter side to U[size, max_side], a random size x size crop, a random flip."""
    out = torch.empty(raw.shape[0], 3, size, size)
    for i in range(raw.shape[0]):
        side = int(torch.randint(size, max_side + 1, ()))
        y = upscale(raw[i:i + 1], side)
        x0, y0 = int(torch.randint(0, side - size + 1, ())), int(torch.randint(0, side - size + 1, ()))
        y = y[:, :, y0:y0 + size, x0:x0 + size]
        out[i] = y[0].flip(-1) if bool(torch.randint(0, 2, ())) else y[0]
    return out


@torch.no_grad()
def evaluate(m, val):
    z = m.encode(val)
    cb = F.normalize(m.codebook, dim=-1)
    ids = (z @ cb.t()).argmax(-1)
    n = val.shape[0]
    h = m.proj_in(cb[ids]) + m.dpos[:m.nt] + m.dlevel[1]
    mk = (m.dpos + m.mask + m.dlevel[0]).expand(n, -1, -1)
    s = m.dnorm(m.dec(torch.cat([mk, h], 1)))
    p, g = m.patch, m.size // m.patch
    rec = m.head(s[:, :m.np]).reshape(n, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(n, 3, m.size, m.size)
    mse = ((rec - val) ** 2).mean().item()
    return 10 * math.log10(4 / mse), ids.unique().numel() / cb.shape[0]


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--steps", type=int, default=1250)
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--workers", type=int, default=1)
    a.add_argument("--avg-every", type=int, default=5)
    a.add_argument("--perturb", action="store_true")
    a.add_argument("--lr", type=float, default=2e-3)
    a.add_argument("--train-subset", type=int, default=0, help="train on a fixed random subset of this many images (0: all)")
    a.add_argument("--warmup", type=float, default=0.25, help="share of the steps with a linear warm-up")
    a.add_argument("--ema", type=float, default=0.995)
    a.add_argument("--min-ratio", type=float, default=0.2, help="the cosine schedule's final lr as a share of the peak")
    a.add_argument("--every", type=int, default=250)
    a.add_argument("--val", type=int, default=256)
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--trace", type=int, default=0)
    a.add_argument("--stop", type=int, default=0, help="stop after this many steps (the schedule stays --steps long)")
    a.add_argument("--init", choices=["torch", "java"], default="torch")
    a.add_argument("--data", choices=["pad", "java"], default="pad",
                   help="pad: 28 px zero-padded to 32, no augmentation; java: the project's transforms (val: cubic "
                        "upscale to 32; train: cubic upscale to U[32, 40], random crop, flip)")
    a.add_argument("--flip", action="store_true", help="with --data pad: flip each train image horizontally with probability 1/2 "
                   "(what the project's train transform does at max-scale 1.0)")
    a.add_argument("--head-init", choices=["random", "mean", "mean-zero"], default="random")
    a.add_argument("--restart-dead", type=int, default=0,
                   help="every N steps, codes no encoder output chose in those N steps restart at a random encoder output "
                        "of the current batch (their optimizer state zeroed)")
    a = a.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.data == "java":
        train_raw = load("train", raw=True)
        val = upscale(load("t10k", raw=True)[:a.val], 32)
        train = upscale(train_raw[:64], 32)  # only the initialisation reads it; batches come from augment()
    else:
        train, val = load("train"), load("t10k")[:a.val]
    if a.train_subset:
        keep = torch.randperm(len(train_raw if a.data == "java" else train))[:a.train_subset]
        if a.data == "java":
            train_raw = train_raw[keep]
        else:
            train = train[keep]
    m = Tokenizer(32, 8, 128, 2, 2, 4, 512, 16)
    if a.init == "java":
        for mod in m.modules():
            if isinstance(mod, torch.nn.Linear):
                torch.nn.init.normal_(mod.weight, std=0.02)
                torch.nn.init.zeros_(mod.bias)
    with torch.no_grad():
        first = train[torch.randperm(len(train))[:64]] if a.data == "pad" else augment(train_raw[torch.randperm(len(train_raw))[:64]])
        z = m.encode(first).reshape(-1, 16)
        m.codebook.copy_(z[torch.randperm(len(z))[:512]] + 0.01 * torch.randn(512, 16))
        if a.head_init != "random":
            m.head.bias.copy_(m.patchify(first).mean((0, 1)))
            if a.head_init == "mean-zero":
                m.head.weight.zero_()
    models = [copy.deepcopy(m) for _ in range(a.workers)]
    opts = [torch.optim.AdamW(w.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0) for w in models]
    ema = copy.deepcopy(m)
    warm = max(1, int(a.steps * a.warmup))
    for step in range(a.stop or a.steps):
        t = step + 1
        scale = t / warm if t < warm else a.min_ratio + (1 - a.min_ratio) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (a.steps - warm)))
        for w, opt in zip(models, opts):
            for gr in opt.param_groups:
                gr["lr"] = a.lr * scale
            img = train[torch.randint(0, len(train), (a.batch,))] if a.data == "pad" else augment(train_raw[torch.randint(0, len(train_raw), (a.batch,))])
            if a.flip and a.data == "pad":
                img = torch.where(torch.rand(a.batch, 1, 1, 1) < 0.5, img.flip(-1), img)
            nt = w.nt
            ids = torch.zeros(a.batch * nt, dtype=torch.long)
            mask = torch.zeros(a.batch * nt, 1, dtype=torch.bool)
            if a.perturb:
                k = max(1, round(0.1 * a.batch))
                with torch.no_grad():
                    near = (w.encode(img[:k]) @ F.normalize(w.codebook, dim=-1).t()).topk(100, -1).indices
                pick = torch.randint(0, 100, (k * nt, 1))
                ids[:k * nt] = near.reshape(k * nt, -1).gather(1, pick)[:, 0]
                mask[:k * nt] = True
            if a.restart_dead:
                with torch.no_grad():
                    zb = w.encode(img).reshape(-1, w.codebook.shape[1])
                    hits = (zb @ F.normalize(w.codebook, dim=-1).t()).argmax(-1)
                    w.used = getattr(w, "used", torch.zeros(w.codebook.shape[0], dtype=torch.bool))
                    w.used[hits] = True
                    if t % a.restart_dead == 0:
                        dead = (~w.used).nonzero()[:, 0]
                        if len(dead):
                            w.codebook[dead] = zb[torch.randint(0, len(zb), (len(dead),))] + 0.01 * torch.randn(len(dead), zb.shape[1])
                            st = opt.state.get(w.codebook)
                            if st:
                                st["exp_avg"][dead] = 0
                                st["exp_avg_sq"][dead] = 0
                        w.used.zero_()
            loss = w(img, ids.reshape(a.batch, nt), mask.reshape(a.batch, nt, 1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if a.workers > 1 and t % a.avg_every == 0:
            with torch.no_grad():
                for ps in zip(*[w.parameters() for w in models]):
                    avg = sum(p.data for p in ps) / len(ps)
                    for p in ps:
                        p.data.copy_(avg)
                for sts in zip(*[[o.state[p] for p in o.param_groups[0]["params"]] for o in opts]):
                    for key in ("exp_avg", "exp_avg_sq"):
                        avg = sum(s[key] for s in sts) / len(sts)
                        for s in sts:
                            s[key].copy_(avg)
        with torch.no_grad():
            for pe, pw in zip(ema.parameters(), models[0].parameters()):
                pe.mul_(a.ema).add_(pw, alpha=1 - a.ema)
        if a.trace and t % a.trace == 0:
            with torch.no_grad():
                z = models[0].encode(val[:64])
                codes = (z @ F.normalize(models[0].codebook, dim=-1).t()).argmax(-1).unique().numel()
            print(f"TRACE step {t} codes in use (64 val images) {codes} mean encoder output length "
                  f"{z.reshape(-1, z.shape[-1]).mean(0).norm().item():.3f}", flush=True)
        if t % a.every == 0 or t == a.steps:
            pr, ur = evaluate(models[0], val)
            pe, ue = evaluate(ema, val)
            print(f"USAGE step {t} images {t * a.batch * a.workers} raw: psnr {pr:.2f} usage {ur:.3f} | "
                  f"ema: psnr {pe:.2f} usage {ue:.3f}  (workers {a.workers} perturb {a.perturb} lr {a.lr} init {a.init} "
                  f"head-init {a.head_init} restart-dead {a.restart_dead} data {a.data})", flush=True)


if __name__ == "__main__":
    main()
