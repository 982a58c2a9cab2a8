#!/usr/bin/env python3
"""Writes the tokenizer's pretrained weight files (safetensors, float32) from the public PyTorch checkpoints.

  python3 deploy/convert_weights.py lpips  vgg16-397923af.pth vgg.pth        lpips-vgg16.safetensors
  python3 deploy/convert_weights.py dinov2 dinov2_vitb14_pretrain.pth          dinov2-vitb14.safetensors
  python3 deploy/convert_weights.py dino   dino_deitsmall16_pretrain.pth       dino-vits16.safetensors

Sources:
  lpips   torchvision's VGG16 (https://download.pytorch.org/models/vgg16-397923af.pth; only `features.*` is kept)
          and lpips v0.1's linear heads (lpips/weights/v0.1/vgg.pth in https://github.com/richzhang/PerceptualSimilarity)
          -> tokenizer.weights.lpips
  dinov2  DINOv2 ViT-B/14 (https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth; timm's
          vit_base_patch14_dinov2 and Hugging Face's facebook/dinov2-base safetensors are read as they are)
          -> tokenizer.weights.dinov2
  dino    DINO ViT-S/16 (https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth,
          or timm's vit_small_patch16_224.dino) -> tokenizer.weights.dino
Needs torch (to unpickle .pth) and numpy. The tensor names are kept; a checkpoint wrapped in a dict under "model",
"state_dict" or "teacher" is unwrapped (a "module."/"backbone." prefix is stripped).
"""
import json
import os
import struct
import sys

import numpy as np
import torch


def state_dict(path):
    sd = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model", "teacher"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    out = {}
    for k, v in sd.items():
        for prefix in ("module.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if torch.is_tensor(v):
            out[k] = v
    return out


def save(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().float().cpu().numpy()).astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    js = json.dumps(header).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)
    print("%s: %d tensors, %.1f MB" % (path, len(tensors), offset / 1e6))


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("lpips", "dinov2", "dino"):
        sys.exit(__doc__)
    kind, out = sys.argv[1], sys.argv[-1]
    if kind == "lpips":
        if len(sys.argv) != 5:
            sys.exit("lpips needs two inputs: the torchvision VGG16 .pth and lpips' vgg.pth\n" + __doc__)
        vgg = {k: v for k, v in state_dict(sys.argv[2]).items() if k.startswith("features.")}
        lin = {k: v for k, v in state_dict(sys.argv[3]).items() if k.startswith("lin")}
        if len(vgg) != 26 or len(lin) != 5:
            sys.exit("expected 26 VGG16 feature tensors and 5 lpips heads, found %d and %d" % (len(vgg), len(lin)))
        save(out, {**vgg, **lin})
    else:
        sd = {k: v for k, v in state_dict(sys.argv[2]).items() if not k.startswith("head")}
        if "blocks.0.attn.qkv.weight" not in sd and "encoder.layer.0.norm1.weight" not in sd:
            sys.exit("%s: not a ViT state dict (no blocks.0.attn.qkv.weight)" % sys.argv[2])
        save(out, sd)


if __name__ == "__main__":
    main()
