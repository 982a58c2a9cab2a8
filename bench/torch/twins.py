#!/usr/bin/python3
"""PyTorch twins of this project's training steps and of Inception-v3 feature extraction, for side-by-side timing.

Same sizes, batch and step as the Java benchmarks (bench/tokenizer, bench/generator, bench/fid): the tokenizer step
(perturbation draw on beta = 10% of the images, encoder + l2-normalised quantizer + decoder, L2 + codebook + commitment
losses, backward, gradient norm, AdamW), the RAR generator step (adaLN-zero blocks with QK-norm, causal attention,
per-position step embedding, cross-entropy, AdamW) and torchvision's Inception-v3 (random weights) up to the 2048-d
pool. CPU, float32, torch.set_num_threads(--threads). Prints one "TWIN ..." line with the median rate.

Usage: twins.py tokenizer [--patch 8] [--batch 32] [--paper] | generator [--tokens 16] [--batch 64] | inception
       [--batch 10] [--size 256], with --threads N --steps N.
"""
import argparse
import math
import os
import statistics
import sys
import time

# Debian's torch runs its GEMMs in OpenBLAS, whose thread pool ignores torch.set_num_threads: "--threads 1" ran
# on every core unless the pool is sized before torch loads. The launcher's own setting wins.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, _threads)

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("TWIN skipped: PyTorch is not installed for this python (Debian: apt-get install python3-torch "
          "python3-torchvision libopenblas0-pthread; run with /usr/bin/python3)")
    sys.exit(0)


class Block(nn.Module):
    """Pre-norm ViT block, eps 1e-6, fused qkv, GELU MLP (timm's layout)."""

    def __init__(self, d, heads, ratio=4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, int(d * ratio))
        self.fc2 = nn.Linear(int(d * ratio), d)

    def forward(self, x):
        n, l, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(n, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(n, l, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Tokenizer(nn.Module):
    def __init__(self, size, patch, width, enc, dec, heads, codes, code_dim):
        super().__init__()
        self.size, self.patch = size, patch
        g = size // patch
        self.np, self.nt = g * g, g * g // (4 if size == 256 else 1)
        pd = 3 * patch * patch
        self.patch_embed = nn.Linear(pd, width)
        self.epos = nn.Parameter(torch.randn(self.np, width) * .02)
        self.elevel = nn.Parameter(torch.randn(2, width) * .02)
        self.latent = nn.Parameter(torch.randn(self.nt, width) * .02)
        self.enc = nn.Sequential(*[Block(width, heads) for _ in range(enc)])
        self.enorm = nn.LayerNorm(width, eps=1e-6)
        self.eproj = nn.Linear(width, code_dim)
        self.codebook = nn.Parameter(torch.randn(codes, code_dim))
        self.proj_in = nn.Linear(code_dim, width)
        self.dpos = nn.Parameter(torch.randn(self.np, width) * .02)
        self.dlevel = nn.Parameter(torch.randn(2, width) * .02)
        self.mask = nn.Parameter(torch.randn(1, width) * .02)
        self.dec = nn.Sequential(*[Block(width, heads) for _ in range(dec)])
        self.dnorm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, pd)

    def patchify(self, img):
        n, p, g = img.shape[0], self.patch, self.size // self.patch
        return img.reshape(n, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(n, g * g, 3 * p * p)

    def encode(self, img):
        n = img.shape[0]
        x = self.patch_embed(self.patchify(img)) + self.epos + self.elevel[0]
        lat = (self.latent + self.epos[:self.nt] + self.elevel[1]).expand(n, -1, -1)
        s = self.enorm(self.enc(torch.cat([x, lat], 1)))
        return F.normalize(self.eproj(s[:, self.np:]), dim=-1)

    def forward(self, img, pert_ids, pert_mask):
        z = self.encode(img)
        cb = F.normalize(self.codebook, dim=-1)
        ids = (z @ cb.t()).argmax(-1)
        zq = cb[ids]
        codebook = ((zq - z.detach()) ** 2).mean()
        commit = 0.25 * ((zq.detach() - z) ** 2).mean()
        code = torch.where(pert_mask, cb[pert_ids], zq)
        h = self.proj_in(z + (code - z).detach())
        n = img.shape[0]
        h = h + self.dpos[:self.nt] + self.dlevel[1]
        m = (self.dpos + self.mask + self.dlevel[0]).expand(n, -1, -1)
        s = self.dnorm(self.dec(torch.cat([m, h], 1)))
        px = self.head(s[:, :self.np])
        p, g = self.patch, self.size // self.patch
        recon = px.reshape(n, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(n, 3, self.size, self.size)
        return ((recon - img) ** 2).mean() + codebook + commit


def tokenizer_step(a):
    if a.paper:
        size, patch, width, enc, dec, heads, codes, cd, batch = 256, 16, 768, 12, 12, 12, 4096, 64, a.batch or 1
    else:
        size, patch, width, enc, dec, heads, codes, cd, batch = 32, a.patch, 128, 2, 2, 4, 512, 16, a.batch or 32
    m = Tokenizer(size, patch, width, enc, dec, heads, codes, cd)
    opt = torch.optim.AdamW(m.parameters(), lr=2.4e-4, betas=(0.9, 0.95), weight_decay=0.0)
    img = torch.rand(batch, 3, size, size) * 2 - 1
    nt = m.nt
    pert = max(1, round(0.1 * batch))

    def step():
        # perturbation: encoder forward on beta of the images, r-th nearest codes picked from the similarities
        with torch.no_grad():
            sims = m.encode(img[:pert]) @ F.normalize(m.codebook, dim=-1).t()
            near = sims.topk(min(100, codes), -1).indices
        ids = torch.zeros(batch * nt, dtype=torch.long)
        mask = torch.zeros(batch * nt, 1, dtype=torch.bool)
        ids[:pert * nt] = near.reshape(pert * nt, -1)[:, 1]
        mask[:pert * nt] = True
        loss = m(img, ids.reshape(batch, nt), mask.reshape(batch, nt, 1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), float("inf"))
        opt.step()

    params = sum(p.numel() for p in m.parameters())
    desc = f"tokenizer size={size} patch={patch} width={width} blocks={enc}+{dec} batch={batch} params={params}"
    run(a, desc, batch, "images/s", step, warm=1 if a.paper else 3)


class RarBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ada = nn.Linear(d, 6 * d)
        self.qkv = nn.Linear(d, 3 * d)
        self.qn = nn.LayerNorm(d // heads, eps=1e-5)
        self.kn = nn.LayerNorm(d // heads, eps=1e-5)
        self.proj = nn.Linear(d, d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x, c, mask):
        n, l, d = x.shape
        s1, c1, g1, s2, c2, g2 = self.ada(c).chunk(6, -1)
        a = F.layer_norm(x, (d,), eps=1e-5) * (1 + c1) + s1
        q, k, v = self.qkv(a).reshape(n, l, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(self.qn(q) @ self.kn(k).transpose(-1, -2) / math.sqrt(d // self.heads) + mask, -1)
        x = x + g1 * self.proj((att @ v).transpose(1, 2).reshape(n, l, d))
        f = F.layer_norm(x, (d,), eps=1e-5) * (1 + c2) + s2
        return x + g2 * self.fc2(F.gelu(self.fc1(f)))


class Rar(nn.Module):
    def __init__(self, t, vocab, classes, d, depth, heads):
        super().__init__()
        l = t + 1
        self.tok = nn.Embedding(vocab + classes + 1, d)
        self.pos = nn.Parameter(torch.randn(l, d) * .02)
        self.target = nn.Parameter(torch.randn(l, d) * .02)
        self.step = nn.Parameter(torch.randn(l, d) * .02)
        self.blocks = nn.ModuleList([RarBlock(d, heads) for _ in range(depth)])
        self.final = nn.Linear(d, 2 * d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", torch.full((l, l), -1e9).triu(1))

    def forward(self, tokens, cls):
        n, t = tokens.shape
        d = self.pos.shape[1]
        x = torch.cat([self.tok(cls)[:, None], self.tok(tokens)], 1) + self.pos + self.target
        c = F.silu(self.tok(cls)[:, None] + self.step)
        for b in self.blocks:
            x = b(x, c, self.mask)
        sc, sh = self.final(c[:, 1:]).chunk(2, -1)
        h = F.layer_norm(x[:, 1:], (d,), eps=1e-5) * (1 + sc) + sh
        return self.head(h)


def generator_step(a):
    t, batch, vocab = a.tokens, a.batch or 64, 512
    m = Rar(t, vocab, 10, 128, 4, 4)
    opt = torch.optim.AdamW(m.parameters(), lr=4e-4, betas=(0.9, 0.96), weight_decay=0.03)
    tokens = torch.randint(0, vocab, (batch, t))
    cls = torch.randint(vocab, vocab + 10, (batch,))

    def step():
        loss = F.cross_entropy(m(tokens, cls).reshape(-1, vocab), tokens.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    params = sum(p.numel() for p in m.parameters())
    run(a, f"generator width=128 depth=4 tokens={t} batch={batch} params={params}", batch, "sequences/s", step, warm=3)


def inception(a):
    import torchvision
    m = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).eval()
    m.fc = nn.Identity()
    batch = a.batch or 10
    x = torch.randint(0, 256, (batch, 3, a.size, a.size), dtype=torch.uint8)

    def step():
        with torch.no_grad():
            y = F.interpolate(x.float() / 127.5 - 1, size=(299, 299), mode="bilinear", align_corners=False)
            f = m(y)
        assert f.shape == (batch, 2048)

    run(a, f"inception-v3 pool_3 input={a.size} -> 299 batch={batch}", batch, "images/s", step, warm=1)


def blas():
    """The BLAS library this process loaded (Debian's torch links libblas.so.3, whatever the alternatives point to)."""
    libs = sorted({os.path.basename(l.split()[-1]) for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
    return "+".join(libs) or "unknown"


def run(a, desc, batch, unit, step, warm):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for _ in range(warm):
        step()
    times, cpus = [], []
    for _ in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    med = statistics.median(times)
    lib = blas()
    if "openblas" not in lib:
        # seen on a fresh Debian: python3-torch pulled only libblas3 (the reference BLAS) and ran ~10x slower
        print(f"WARNING: PyTorch's GEMMs run in {lib}, not OpenBLAS: its rates are far below what Debian's torch can "
              f"do; apt-get install libopenblas0-pthread", file=sys.stderr, flush=True)
    print(f"TWIN {desc} threads={a.threads}: median step {med:.4f} s = {batch / med:.2f} {unit} "
          f"(CPU time min {min(cpus):.4f} s = {batch / min(cpus):.2f} per CPU-second) "
          f"(min {min(times):.4f} max {max(times):.4f}, {a.steps} steps, torch {torch.__version__}, {lib})", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["tokenizer", "generator", "inception"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--paper", action="store_true")
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    torch.manual_seed(0)
    {"tokenizer": tokenizer_step, "generator": generator_step, "inception": inception}[a.what](a)


if __name__ == "__main__":
    main()
