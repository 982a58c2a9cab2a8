"""Fréchet distance at d=2048: scipy.linalg.sqrtm as pytorch-fid uses it vs ours (io.robustok.eval.FrechetDistance).

  python3 bench/fid/frechet_vs_scipy.py gen      # writes bench/fid/work/stats2048.npz (mu1, sigma1, mu2, sigma2)
  python3 bench/fid/frechet_vs_scipy.py scipy    # times pytorch-fid's calculate_frechet_distance (median of runs)
  python3 bench/fid/frechet_vs_scipy.py compare  # reads bench/fid/work/java.json and prints the comparison
bench/fid/run.sh runs all three and the Java side.
"""
import json, os, sys, time
import numpy as np
from scipy import linalg

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")
STATS = os.path.join(WORK, "stats2048.npz")


def features(rng, n, d, latent, shift):
    # Inception pool_3-like: non-negative, correlated, full rank only because n > d
    a = rng.standard_normal((latent, d)) / np.sqrt(latent)
    z = rng.standard_normal((n, latent)) + shift
    x = np.logaddexp(0, z @ a)  # softplus
    return x + 0.05 * rng.standard_normal((n, d))


def gen():
    os.makedirs(WORK, exist_ok=True)
    rng = np.random.default_rng(0)
    d = 2048
    x1 = features(rng, 10000, d, 512, 0.0)
    rng2 = np.random.default_rng(1)
    x2 = features(rng2, 10000, d, 512, 0.1)
    np.savez(STATS, mu1=x1.mean(0), sigma1=np.cov(x1, rowvar=False), mu2=x2.mean(0), sigma2=np.cov(x2, rowvar=False))


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid (mseitzer/pytorch-fid, fid_score.py), verbatim in substance."""
    diff = mu1 - mu2
    try:
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    except TypeError:  # scipy versions without the disp argument
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def scipy_side(runs):
    z = np.load(STATS)
    args = (z["mu1"], z["sigma1"], z["mu2"], z["sigma2"])
    times, val = [], None
    for _ in range(runs):
        t = time.perf_counter()
        val = float(calculate_frechet_distance(*args))
        times.append(time.perf_counter() - t)
    out = {"fid": val, "seconds": times, "median_s": float(np.median(times)), "scipy": __import__("scipy").__version__,
           "numpy": np.__version__, "blas": blas_name()}
    json.dump(out, open(os.path.join(WORK, "scipy.json"), "w"), indent=1)
    print(json.dumps(out))


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        return "unknown"


def compare():
    s = json.load(open(os.path.join(WORK, "scipy.json")))
    j = json.load(open(os.path.join(WORK, "java.json")))
    rel = abs(s["fid"] - j["fid"]) / abs(s["fid"])
    res = {"fid_scipy": s["fid"], "fid_ours": j["fid"], "relative_difference": rel,
           "scipy_median_s": s["median_s"], "ours_median_s": j["median_s"], "speedup": s["median_s"] / j["median_s"]}
    print(json.dumps(res))
    ok = rel <= 1e-6 and res["speedup"] >= 3
    print("PASS" if ok else "FAIL", "(need relative difference <= 1e-6 and speedup >= 3)")
    return 0 if ok else 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen()
    elif cmd == "scipy":
        scipy_side(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    elif cmd == "compare":
        sys.exit(compare())
