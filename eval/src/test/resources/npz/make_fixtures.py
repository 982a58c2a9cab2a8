"""Writes the .npz fixtures that NpzTest reads (run once from this folder with python3 + numpy; committed).

Values follow simple formulas so the Java test recomputes them without numpy:
  ref.npz      mu[i] = i / 8 (float64, 4), sigma[i, j] = 1 / (1 + i + j) (float64, 4x4),
               arr_0[r, c] = r - c / 4 (float32, 6x4: activations as in the SPEC's reference batch)
  samples.npz  arr_0[n, h, w, c] = (n * 100 + h * 10 + w * 3 + c) % 256 (uint8 NHWC, 2x3x3x3, ADM's
               sample batch layout), arr_1 = [7, 3] (int64 class labels)
  mixed.npz    savez_compressed: a (float16, 3) = [0.5, -2, 65504], b (big-endian float32, 2x2) = [[1, 2], [3, 4]]
"""
import numpy as np

mu = np.arange(4, dtype=np.float64) / 8
i, j = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
sigma = 1.0 / (1 + i + j)
r, c = np.meshgrid(np.arange(6), np.arange(4), indexing="ij")
acts = (r - c / 4).astype(np.float32)
np.savez("ref.npz", mu=mu, sigma=sigma, arr_0=acts)

n, h, w, ch = np.meshgrid(np.arange(2), np.arange(3), np.arange(3), np.arange(3), indexing="ij")
imgs = ((n * 100 + h * 10 + w * 3 + ch) % 256).astype(np.uint8)
np.savez("samples.npz", imgs, np.array([7, 3], dtype=np.int64))

np.savez_compressed("mixed.npz", a=np.array([0.5, -2, 65504], dtype=np.float16),
                    b=np.array([[1, 2], [3, 4]], dtype=">f4"))
