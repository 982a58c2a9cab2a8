#!/usr/bin/python3
"""PyTorch reference of the tokenizer's pretrained parts (LPIPS-VGG16, DINOv2 initialisation and feature, the
semantic InfoNCE loss, the frozen-DINO discriminator) and of the paper-scale training step.

  /usr/bin/python3 model/src/test/python/reference.py goldens [OUT_DIR]
      Writes seeded random weights in the public checkpoints' tensor naming (torchvision VGG16 + lpips, timm/DINOv2,
      timm/DINO + StyleGAN-T heads) and the outputs PyTorch computes from them, as safetensors, into OUT_DIR
      (default model/src/test/resources/goldens). The Java tests (PretrainedGoldenTest) compare against these.
  /usr/bin/python3 model/src/test/python/reference.py bench [--batch N] [--steps N] [--threads N]
      One paper-scale tokenizer step with every loss on (ViT-B encoder and decoder, LPIPS, semantic loss, DINO
      discriminator step), random weights, CPU: prints seconds per image (BENCHMARKS.md compares it with Java).

Needs Debian's python3-torch (1.13) and python3-numpy; no timm, lpips or safetensors package: the few functions
used from them are re-stated here from their published source (timm.layers.resample_patch_embed /
resample_abs_pos_embed, lpips.LPIPS v0.1, StyleGAN-T's DINO discriminator) and safetensors is written with numpy.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------
# safetensors (F32 / I64 only) with numpy


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        code = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    js = json.dumps(header).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# timm's resampling (timm/layers/patch_embed.py resample_patch_embed, timm/layers/pos_embed.py resample_abs_pos_embed)


def resample_patch_embed(patch_embed, new_size, interpolation="bicubic", antialias=True):
    """FlexiViT's pseudo-inverse resize of a conv patch-embedding kernel [D, C, p, p] to [D, C, new, new]."""
    old_size = patch_embed.shape[-2:]
    if tuple(old_size) == tuple(new_size):
        return patch_embed

    def resize(x_np, _new_size):
        x_tf = torch.tensor(x_np, dtype=torch.float32)[None, None, ...]
        return F.interpolate(x_tf, size=_new_size, mode=interpolation, antialias=antialias)[0, 0, ...].numpy()

    mat = []
    for i in range(int(np.prod(old_size))):
        basis = np.zeros(old_size)
        basis[np.unravel_index(i, old_size)] = 1.0
        mat.append(resize(basis, new_size).reshape(-1))
    resize_mat = np.stack(mat).T
    pinv = torch.tensor(np.linalg.pinv(resize_mat.T), dtype=torch.float32)
    d, c = patch_embed.shape[:2]
    flat = patch_embed.float().reshape(d * c, -1)
    return (flat @ pinv.T).reshape(d, c, *new_size)


def resample_abs_pos_embed(posemb, new_size, num_prefix_tokens=1, interpolation="bicubic", antialias=True):
    """[1, prefix + h*w, D] table to [1, prefix + new*new, D]: bicubic, anti-aliased, prefix tokens kept."""
    n = posemb.shape[1]
    if n == new_size[0] * new_size[1] + num_prefix_tokens and new_size[0] == new_size[1]:
        return posemb
    hw = int(math.sqrt(n - num_prefix_tokens))
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    dim = posemb.shape[-1]
    grid = grid.float().reshape(1, hw, hw, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_size, mode=interpolation, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat([prefix, grid], dim=1)


# ---------------------------------------------------------------------------------------------------------------
# ViT in timm / DINOv2 naming (cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1,attn.qkv,attn.proj,ls1.gamma,
# norm2,mlp.fc1,mlp.fc2,ls2.gamma}, norm)


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, layer_scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.ls2 = LayerScale(dim) if layer_scale else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class Vit(nn.Module):
    """DINOv2 (layer_scale=True, patch 14, 37x37 table) or DINO v1 (layer_scale=False, patch 16, 14x14 table)."""

    def __init__(self, dim, depth, heads, patch, table_grid, layer_scale):
        super().__init__()
        self.patch = patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + table_grid * table_grid, dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.ModuleList([Block(dim, heads, layer_scale) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def tokens(self, x, pos_embed, patch_weight):
        """Patch embedding (with the given kernel) + CLS + position table (already at the right grid)."""
        p = patch_weight.shape[-1]
        x = F.conv2d(x, patch_weight, self.patch_embed.proj.bias, stride=p).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + pos_embed

    def forward_blocks(self, x, pos_embed, patch_weight):
        """Outputs: [tokens after pos, block 0, ..., block depth-1, final norm]."""
        outs = [self.tokens(x, pos_embed, patch_weight)]
        for b in self.blocks:
            outs.append(b(outs[-1]))
        outs.append(self.norm(outs[-1]))
        return outs


def randomize(module, gen, std=0.05):
    """Seeded random values in every tensor (LayerNorm gains near 1, layer-scale gains in [0.1, 1])."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("gamma"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.9 + 0.1)
            elif ("norm" in name or name.endswith(".1.weight") and p.dim() == 1) and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def dinov2_cls(vit, image, res, pos_embed):
    """Semantic-loss feature: image in [-1, 1] -> [0, 1] -> bicubic (anti-aliased) resize to res -> ImageNet
    normalisation -> DINOv2 -> final norm -> CLS [N, D]."""
    x = (image + 1) / 2
    if x.shape[-1] != res:
        x = F.interpolate(x, size=(res, res), mode="bicubic", antialias=True)
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return vit.forward_blocks(x, pos_embed, vit.patch_embed.proj.weight)[-1][:, 0]


# ---------------------------------------------------------------------------------------------------------------
# LPIPS v0.1 (lpips/pretrained_networks.py vgg16 + lpips/lpips.py LPIPS), VGG16 in torchvision's `features.N` layout

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features(widths=(64, 128, 256, 512, 512)):
    """torchvision.models.vgg16().features with the five stage widths replaceable (small goldens)."""
    scale = {64: widths[0], 128: widths[1], 256: widths[2], 512: None}
    layers, c, stage = [], 3, 0
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            stage += 1
        else:
            out = widths[stage]
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(inplace=False)]
            c = out
    del scale
    return nn.Sequential(*layers)


class Lpips(nn.Module):
    SLICES = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]

    def __init__(self, widths=(64, 128, 256, 512, 512)):
        super().__init__()
        self.features = vgg16_features(widths)
        for i, w in enumerate(widths):
            lin = nn.Module()
            lin.model = nn.Sequential(nn.Dropout(), nn.Conv2d(w, 1, 1, bias=False))
            setattr(self, "lin%d" % i, lin)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def stages(self, x):
        x = (x - self.shift) / self.scale
        outs = []
        for a, b in self.SLICES:
            for i in range(a, b):
                x = self.features[i](x)
            outs.append(x)
        return outs

    def forward(self, x0, x1):
        """Per-image distance [N] of images in [-1, 1]."""
        val = 0
        for i, (f0, f1) in enumerate(zip(self.stages(x0), self.stages(x1))):
            n0 = f0 / (torch.sqrt(torch.sum(f0 ** 2, dim=1, keepdim=True)) + 1e-10)
            n1 = f1 / (torch.sqrt(torch.sum(f1 ** 2, dim=1, keepdim=True)) + 1e-10)
            val = val + getattr(self, "lin%d" % i).model((n0 - n1) ** 2).mean([2, 3])
        return val[:, 0]

    def weights(self):
        return {k: v for k, v in self.state_dict().items() if k not in ("shift", "scale")}


# ---------------------------------------------------------------------------------------------------------------
# Semantic loss: CLIP-style symmetric InfoNCE, logit scale 1, no normalisation


def semantic_infonce(cls_feat, proj_w, proj_b, zq):
    """cls_feat [N, D] frozen DINOv2 CLS, proj (torch Linear layout [64, D]), zq [N, T, 64] quantised latent."""
    a = cls_feat @ proj_w.t() + proj_b
    b = zq.mean(1)
    logits = a @ b.t()
    labels = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


# ---------------------------------------------------------------------------------------------------------------
# DINO discriminator (StyleGAN-T: ProjectedDiscriminator / DINO / DiscHead), unconditional


class BatchNormLocal(nn.Module):
    def __init__(self, num_features, virtual_bs=8, eps=1e-5):
        super().__init__()
        self.virtual_bs, self.eps = virtual_bs, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        shape = x.size()
        g = int(np.ceil(x.size(0) / self.virtual_bs))
        x = x.view(g, -1, x.size(-2), x.size(-1))
        mean = x.mean([1, 3], keepdim=True)
        var = x.var([1, 3], keepdim=True, unbiased=False)
        x = (x - mean) / torch.sqrt(var + self.eps)
        x = x * self.weight[None, :, None] + self.bias[None, :, None]
        return x.view(shape)


def spectral_conv1d(cin, cout, k):
    conv = nn.Conv1d(cin, cout, k, padding=k // 2, padding_mode="circular" if k > 1 else "zeros")
    return nn.utils.spectral_norm(conv, n_power_iterations=1, eps=1e-12)


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return (self.fn(x) + x) / np.sqrt(2)


class DiscHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        block = lambda k: nn.Sequential(spectral_conv1d(c, c, k), BatchNormLocal(c), nn.LeakyReLU(0.2))
        self.main = nn.Sequential(block(1), Residual(block(9)))
        self.cls = spectral_conv1d(c, 1, 1)

    def forward(self, x):
        return self.cls(self.main(x))


class DinoDisc(nn.Module):
    HOOKS = (2, 5, 8, 11)

    def __init__(self, dim=384, depth=12, heads=6, patch=16, res=224):
        super().__init__()
        self.res = res
        self.dino = Vit(dim, depth, heads, patch, res // patch, layer_scale=False)
        self.heads = nn.ModuleDict({str(i): DiscHead(dim) for i in range(len(self.HOOKS) + 1)})

    def features(self, x01):
        """Five [N, D, L] maps: position-embedded tokens and blocks 2, 5, 8, 11, each patch tokens + CLS (readout)."""
        x = F.interpolate(x01, self.res, mode="area")
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
        outs = self.dino.forward_blocks(x, self.dino.pos_embed, self.dino.patch_embed.proj.weight)
        picked = [outs[0]] + [outs[1 + h] for h in self.HOOKS]
        return [(t[:, 1:] + t[:, :1]).transpose(1, 2) for t in picked]

    def forward(self, x, crop=None):
        """x in [-1, 1] (already DiffAugmented); crop = (top, left) of a res x res crop, or None (resize)."""
        x = (x + 1) / 2
        if crop is not None:
            x = x[:, :, crop[0]:crop[0] + self.res, crop[1]:crop[1] + self.res]
        feats = self.features(x)
        return torch.cat([self.heads[str(i)](f).view(x.size(0), -1) for i, f in enumerate(feats)], dim=1)


# ---------------------------------------------------------------------------------------------------------------
# goldens


def goldens(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)

    # LPIPS: torchvision naming checked against the real VGG16 layout; small widths for a small file
    import torchvision
    ref = {k: tuple(v.shape) for k, v in torchvision.models.vgg16().features.state_dict().items()}
    mine = {"features." + k: tuple(v.shape) for k, v in vgg16_features().state_dict().items()}
    assert {"features." + k: s for k, s in ref.items()} == mine, "VGG16 layout differs from torchvision's"
    lp = Lpips(widths=(4, 8, 8, 16, 16)).eval()
    randomize(lp, g, std=0.2)
    with torch.no_grad():
        for i in range(5):
            getattr(lp, "lin%d" % i).model[1].weight.abs_()   # lpips' heads are non-negative
    x0 = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    x1 = (x0 + 0.3 * torch.randn(3, 3, 32, 32, generator=g)).clamp(-1, 1).requires_grad_(True)
    d = lp(x0, x1)
    d.mean().backward()
    save_safetensors(os.path.join(out, "lpips-weights.safetensors"), lp.weights())
    save_safetensors(os.path.join(out, "lpips-golden.safetensors"),
                     {"x0": x0, "x1": x1, "distance": d, "grad_x1": x1.grad})

    # DINOv2-shaped ViT (layer scale, patch 14, 37x37 table), resampled to patch 16 on a 4x4 grid as timm does
    v2 = Vit(dim=32, depth=2, heads=2, patch=14, table_grid=37, layer_scale=True).eval()
    randomize(v2, g)
    with torch.no_grad():
        pe16 = resample_patch_embed(v2.patch_embed.proj.weight, (16, 16))
        pos4 = resample_abs_pos_embed(v2.pos_embed, (4, 4))
        img = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
        outs = v2.forward_blocks(img, pos4, pe16)
        pos2 = resample_abs_pos_embed(v2.pos_embed, (2, 2))
        sem_img = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
        cls = dinov2_cls(v2, sem_img, 28, pos2)
    save_safetensors(os.path.join(out, "dinov2-weights.safetensors"), v2.state_dict())
    gold = {"patch_embed16": pe16, "pos_embed4": pos4, "image": img, "sem_image": sem_img, "sem_cls": cls}
    for i, o in enumerate(outs):
        gold["out%d" % i] = o
    save_safetensors(os.path.join(out, "dinov2-golden.safetensors"), gold)

    # semantic InfoNCE and its gradients
    n, dim, t, c = 4, 32, 16, 8
    cls_feat = torch.randn(n, dim, generator=g)
    w = (0.2 * torch.randn(c, dim, generator=g)).requires_grad_(True)
    b = (0.1 * torch.randn(c, generator=g)).requires_grad_(True)
    zq = torch.randn(n, t, c, generator=g).requires_grad_(True)
    loss = semantic_infonce(cls_feat, w, b, zq)
    loss.backward()
    save_safetensors(os.path.join(out, "semantic-golden.safetensors"),
                     {"cls": cls_feat, "proj_w": w, "proj_b": b, "zq": zq, "loss": loss.reshape(1),
                      "grad_proj_w": w.grad, "grad_proj_b": b.grad, "grad_zq": zq.grad})

    # DINO discriminator: ViT-S-shaped (narrow, patch 8) DINO at resolution 32 (40 px input), five heads; train mode (one power iteration)
    disc = DinoDisc(dim=24, depth=12, heads=2, patch=8, res=32).train()
    randomize(disc, g)
    before = {k: v.clone() for k, v in disc.state_dict().items()}
    x = (torch.rand(16, 3, 40, 40, generator=g) * 2 - 1).requires_grad_(True)
    r = torch.randn(16, 5 * 16, generator=g)
    logits_resize = disc(x)
    (logits_resize * r).sum().backward()
    grad_resize = x.grad.clone()
    u_after = {k: v.clone() for k, v in disc.state_dict().items() if k.endswith("weight_u")}
    disc.load_state_dict(before)
    x.grad = None
    logits_crop = disc(x, crop=(3, 5))
    (logits_crop * r).sum().backward()
    save_safetensors(os.path.join(out, "dino-disc-weights.safetensors"), before)
    gold = {"x": x, "r": r, "logits_resize": logits_resize, "grad_resize": grad_resize, "logits_crop": logits_crop,
            "grad_crop": x.grad}
    gold.update({"after." + k: v for k, v in u_after.items()})
    save_safetensors(os.path.join(out, "dino-disc-golden.safetensors"), gold)
    for f in sorted(os.listdir(out)):
        print("%-36s %8d bytes" % (f, os.path.getsize(os.path.join(out, f))))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("goldens", "bench"):
        sys.exit(__doc__)
    if sys.argv[1] == "goldens":
        goldens(sys.argv[2] if len(sys.argv) > 2 else
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "goldens"))
    else:
        bench(sys.argv[2:])


# ---------------------------------------------------------------------------------------------------------------
# paper-scale training step (the same computation as TokenizerWorker.step with every loss on)


def diff_augment(x, g, cutout_ratio=0.2):
    """DiffAugment 'color,translation,cutout' (Zhao et al. 2020), translation 1/8, cutout ratio 0.2."""
    n = x.size(0)
    x = x + (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (torch.rand(n, 1, 1, 1, generator=g) * 2) + m
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - m) * (torch.rand(n, 1, 1, 1, generator=g) + 0.5) + m
    s = x.size(2)
    shift = int(s * 0.125 + 0.5)
    tx = torch.randint(-shift, shift + 1, (n, 1, 1), generator=g)
    ty = torch.randint(-shift, shift + 1, (n, 1, 1), generator=g)
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(s), torch.arange(s), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, s + 1)
    gy = torch.clamp(gy + ty + 1, 0, s + 1)
    xp = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    x = xp.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)
    cut = int(s * cutout_ratio + 0.5)
    ox = torch.randint(0, s + (1 - cut % 2), (n, 1, 1), generator=g)
    oy = torch.randint(0, s + (1 - cut % 2), (n, 1, 1), generator=g)
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(cut), torch.arange(cut), indexing="ij")
    gx = torch.clamp(gx + ox - cut // 2, 0, s - 1)
    gy = torch.clamp(gy + oy - cut // 2, 0, s - 1)
    mask = torch.ones(n, s, s)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


class TokEncoder(nn.Module):
    def __init__(self, dim=768, depth=12, heads=12, patch=16, size=256, code=64):
        super().__init__()
        n = (size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, n, dim))
        self.level_embed = nn.Parameter(0.02 * torch.randn(2, dim))
        self.latent_tokens = nn.Parameter(0.02 * torch.randn(n, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.proj = nn.Linear(dim, code)

    def forward(self, img):
        x = self.patch_embed(img).flatten(2).transpose(1, 2) + self.pos_embed + self.level_embed[0]
        lat = (self.latent_tokens + self.pos_embed[0] + self.level_embed[1]).expand(x.shape[0], -1, -1)
        n = x.shape[1]
        x = torch.cat([x, lat], dim=1)
        for b in self.blocks:
            x = b(x)
        z = self.proj(self.norm(x)[:, n:])
        return F.normalize(z, dim=-1, eps=1e-6)


class TokDecoder(nn.Module):
    def __init__(self, dim=768, depth=12, heads=12, patch=16, size=256, code=64):
        super().__init__()
        self.patch, self.size = patch, size
        n = (size // patch) ** 2
        self.proj_in = nn.Linear(code, dim)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, n, dim))
        self.level_embed = nn.Parameter(0.02 * torch.randn(2, dim))
        self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, 3 * patch * patch)

    def forward(self, zq):
        lat = self.proj_in(zq) + self.pos_embed + self.level_embed[1]
        mask = (self.mask_token + self.pos_embed + self.level_embed[0]).expand(zq.shape[0], -1, -1)
        x = torch.cat([mask, lat], dim=1)
        for b in self.blocks:
            x = b(x)
        y = self.head(self.norm(x)[:, :mask.shape[1]])
        g, p = self.size // self.patch, self.patch
        return y.reshape(-1, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(-1, 3, self.size, self.size)


def bench(args):
    import argparse
    ap = argparse.ArgumentParser(prog="reference.py bench")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(args)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    n, size = a.batch, 256
    enc, dec = TokEncoder(), TokDecoder()
    codebook = nn.Parameter(torch.empty(4096, 64).uniform_(-1 / 4096, 1 / 4096))
    lp = Lpips().eval().requires_grad_(False)
    dinov2 = Vit(768, 12, 12, 14, 37, True).eval().requires_grad_(False)
    dinov2_pos = resample_abs_pos_embed(dinov2.pos_embed, (16, 16))
    disc = DinoDisc().train()
    disc.dino.requires_grad_(False)
    gen_params = list(enc.parameters()) + list(dec.parameters()) + [codebook]
    opt_g = torch.optim.AdamW(gen_params, lr=2.4e-4, betas=(0.9, 0.95), weight_decay=0.0)
    opt_d = torch.optim.AdamW([p for p in disc.heads.parameters()], lr=8e-4, betas=(0.9, 0.95), weight_decay=5e-4)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    ema_real = ema_fake = 0.0
    times = []
    for step in range(1 + a.steps):
        t0 = time.time()
        # perturbation: nearest codes of the images drawn for it (beta 0.1), encoder forward only
        drawn = torch.rand(n, generator=g) < 0.1
        cb = F.normalize(codebook, dim=-1, eps=1e-6)
        pert_ids = None
        if drawn.any():
            with torch.no_grad():
                sims = enc(image[drawn]) @ cb.t()
                pert_ids = sims.topk(100, dim=-1).indices[..., torch.randint(0, 100, (1,), generator=g)]
        with torch.no_grad():
            cls = dinov2_cls(dinov2, image, 224, dinov2_pos)
        z = enc(image)
        cb = F.normalize(codebook, dim=-1, eps=1e-6)
        ids = (z @ cb.t()).argmax(-1)
        zq = cb[ids]
        codebook_loss = ((zq - z.detach()) ** 2).mean()
        commit = 0.25 * ((zq.detach() - z) ** 2).mean()
        clean = z + (zq - z).detach()
        dec_in = clean
        if pert_ids is not None:
            code = zq.clone()
            code[drawn] = cb[pert_ids[..., 0]]
            dec_in = z + (code - z).detach()
        recon = dec(dec_in)
        rec = ((recon - image) ** 2).mean()
        nll = rec + lp(image, recon).mean()
        sem = semantic_infonce(cls, enc.proj.weight, enc.proj.bias, clean)
        crop = None if np.random.random() >= 0.5 else tuple(np.random.randint(0, size - 224 + 1, 2))
        g_loss = -disc(diff_augment(recon, g), crop).mean()
        last = dec.head.weight
        gn = torch.autograd.grad(nll, last, retain_graph=True)[0].norm()
        gg = torch.autograd.grad(g_loss, last, retain_graph=True)[0].norm()
        d_weight = 0.5 * torch.clamp(gn / (gg + 1e-4), 0, 1e4).detach()
        loss = nll + codebook_loss + commit + 0.1 * sem + d_weight * g_loss
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen_params, 1.0)
        opt_g.step()
        # discriminator step: hinge (0.5 factors) + LeCAM on the batch means
        real_l = disc(diff_augment(image, g), None)
        fake_l = disc(diff_augment(recon.detach(), g), None)
        hinge = 0.5 * (F.relu(1 - real_l).mean() + F.relu(1 + fake_l).mean())
        lecam = F.relu(real_l.mean() - ema_fake) ** 2 + F.relu(ema_real - fake_l.mean()) ** 2
        d_loss = hinge + 0.001 * lecam
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        ema_real = 0.999 * ema_real + 0.001 * real_l.mean().item()
        ema_fake = 0.999 * ema_fake + 0.001 * fake_l.mean().item()
        dt = time.time() - t0
        if step > 0:
            times.append(dt)
        print("step %d: %.2f s (loss %.4f, disc %.4f)" % (step, dt, loss.item(), d_loss.item()), flush=True)
    med = sorted(times)[len(times) // 2]
    print("BENCH pytorch %s threads=%d batch=%d: median step %.2f s = %.2f s/image (min %.2f max %.2f)"
          % (torch.__version__, a.threads, n, med, med / n, min(times), max(times)))


if __name__ == "__main__":
    main()
