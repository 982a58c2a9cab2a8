package io.robustok.train;

import java.io.Serializable;

/**
 * A pseudo-random bijection of [0, n) from a seed, computed per index in O(1) memory: a 4-round Feistel
 * network on the smallest even-bit power-of-two domain that holds n, with cycle walking back into [0, n)
 * (expected fewer than 4 walks). The epoch shuffle uses it so no permutation of the whole data set is ever
 * materialised or broadcast.
 */
final class SeededPermutation implements Serializable {
    private static final long serialVersionUID = 1L;
    private final long n;
    private final int halfBits;
    private final long mask;
    private final long[] keys = new long[4];

    SeededPermutation(long n, long seed) {
        if (n <= 0) throw new IllegalArgumentException("n must be positive");
        this.n = n;
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
        this.halfBits = (bits + 1) / 2;
        this.mask = (1L << halfBits) - 1;
        for (int i = 0; i < keys.length; i++) keys[i] = Seeds.derive(seed, i);
    }

    long apply(long i) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException(i + " not in [0, " + n + ")");
        long x = i;
        do {
            x = feistel(x);
        } while (x >= n);
        return x;
    }

    private long feistel(long x) {
        long l = x >>> halfBits;
        long r = x & mask;
        for (long k : keys) {
            long t = r;
            r = l ^ (Seeds.mix(r ^ k) & mask);
            l = t;
        }
        return (l << halfBits) | r;
    }
}
