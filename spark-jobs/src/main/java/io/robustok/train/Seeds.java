package io.robustok.train;

/**
 * Seeds derived from (seed, epoch, round, worker, step) by hashing, never drawn from a mutable generator,
 * so a resumed run sees exactly the data order and random draws of an uninterrupted one.
 */
final class Seeds {
    private Seeds() {
    }

    /** SplitMix64 finaliser: a bijective, well-mixed 64-bit hash. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    static long derive(long seed, long... parts) {
        long h = mix(seed + 0x9e3779b97f4a7c15L);
        for (long p : parts) h = mix(h ^ (p + 0x9e3779b97f4a7c15L));
        return h;
    }
}
