package io.robustok.sweep;

import io.robustok.spark.StageOutput;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A lock on one store entry that threads, JVMs and Spark applications (on any host that sees the store) can race
 * for: the lock is a file created atomically (O_EXCL on a local file system, HDFS's create without overwrite), whose
 * holder renews its modification time every lease / 3. A lock whose holder stopped renewing it for a lease, or whose
 * holder process on this host is gone (a killed sweep), is broken by renaming it aside, which only one waiter wins.
 * The file holds the holder's host, pid and a random id.
 */
public final class StoreLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StoreLock.class);
    private static final String HOST = host();
    private static final long PID = ProcessHandle.current().pid();

    private final String path;
    private final String token;
    private final ScheduledExecutorService heartbeat;

    private StoreLock(String path, String token, long leaseMillis) {
        this.path = path;
        this.token = token;
        this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "store-lock-heartbeat");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(50, leaseMillis / 3);
        heartbeat.scheduleAtFixedRate(this::renew, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Blocks until this caller holds the lock at {@code path} (a file name; its directory is created).
     * {@code waiting} is told once who holds it.
     */
    public static StoreLock acquire(String path, long leaseMillis, java.util.function.Consumer<String> waiting) {
        String token = HOST + " " + PID + " " + UUID.randomUUID();
        boolean told = false;
        long sleep = 100;
        while (true) {
            if (tryCreate(path, token)) return new StoreLock(path, token, leaseMillis);
            String holder = read(path);
            Long mtime = mtime(path);
            if (holder == null || mtime == null) continue; // released between our create and read: try again
            if (breakIfStale(path, holder, mtime, leaseMillis, "taking it over")) continue;
            if (!told) {
                waiting.accept(holder);
                told = true;
            }
            sleepQuietly(sleep);
            sleep = Math.min(1000, sleep * 2);
        }
    }

    /**
     * Removes the lock at {@code path} when its holder is gone (a dead process on this host, or no renewal for a
     * lease); a live holder's lock is left alone. For an entry found complete, whose lock a killed run left behind
     * between committing the output and releasing the lock. True when a stale lock was removed.
     */
    public static boolean clearIfStale(String path, long leaseMillis) {
        String holder = read(path);
        Long mtime = mtime(path);
        if (holder == null || mtime == null) return false;
        return breakIfStale(path, holder, mtime, leaseMillis, "removing it (the entry is complete)");
    }

    private static boolean breakIfStale(String path, String holder, long mtime, long leaseMillis, String action) {
        boolean dead = deadOnThisHost(holder);
        if (!dead && System.currentTimeMillis() - mtime <= leaseMillis) return false;
        log.warn("store lock {} held by '{}' is stale ({}): {}", path, holder,
                dead ? "its process is gone" : "not renewed for " + leaseMillis + " ms", action);
        breakLock(path, holder);
        return true;
    }

    /** The holder line of the lock at {@code path}, or null when there is none. */
    public static String holder(String path) {
        return read(path);
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        if (token.equals(read(path))) delete(path);
        else log.warn("store lock {} was taken over while held (renewal stalled for a lease)", path);
    }

    private void renew() {
        try {
            if (!token.equals(read(path))) return;
            if (isLocal(path)) Files.setLastModifiedTime(local(path), FileTime.fromMillis(System.currentTimeMillis()));
            else StageOutput.fs(path).setTimes(new Path(StageOutput.qualify(path)), System.currentTimeMillis(), -1);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot renew store lock {}: {}", path, e.toString());
        }
    }

    static boolean tryCreate(String path, String token) {
        byte[] bytes = (token + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            if (isLocal(path)) {
                java.nio.file.Path p = local(path);
                Files.createDirectories(p.getParent());
                // write to a private file, then link it into place: the lock never exists without its holder line
                java.nio.file.Path mine = p.resolveSibling(p.getFileName() + "." + UUID.randomUUID() + ".new");
                Files.write(mine, bytes, StandardOpenOption.CREATE_NEW);
                try {
                    Files.createLink(p, mine);
                    return true;
                } catch (FileAlreadyExistsException e) {
                    return false;
                } finally {
                    Files.deleteIfExists(mine);
                }
            }
            FileSystem fs = StageOutput.fs(path);
            Path p = new Path(StageOutput.qualify(path));
            fs.mkdirs(p.getParent());
            try (FSDataOutputStream out = fs.create(p, false)) {
                out.write(bytes);
            }
            return true;
        } catch (FileAlreadyExistsException | org.apache.hadoop.fs.FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            if (!isLocal(path) && exists(path)) return false;
            throw new UncheckedIOException("cannot create store lock " + path, e);
        }
    }

    private static void breakLock(String path, String staleHolder) {
        String aside = path + ".broken-" + UUID.randomUUID().toString().substring(0, 8);
        if (!rename(path, aside)) return; // another waiter broke it first
        String got = read(aside);
        if (got != null && !got.equals(staleHolder)) {
            // the lock was re-taken between our check and the rename: give it back
            if (!restore(aside, path)) log.warn("store lock {}: could not restore a fresh lock taken over by mistake", path);
            return;
        }
        delete(aside);
    }

    private static boolean deadOnThisHost(String holder) {
        String[] f = holder.split(" ");
        if (f.length < 2 || !f[0].equals(HOST)) return false;
        try {
            long pid = Long.parseLong(f[1]);
            return pid != PID && ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean isLocal(String path) {
        return StageOutput.qualify(path).startsWith("file:");
    }

    private static java.nio.file.Path local(String path) {
        return java.nio.file.Path.of(java.net.URI.create(StageOutput.qualify(path)));
    }

    private static String read(String path) {
        try {
            byte[] b;
            if (isLocal(path)) {
                b = Files.readAllBytes(local(path));
            } else {
                try (FSDataInputStream in = StageOutput.fs(path).open(new Path(StageOutput.qualify(path)))) {
                    b = in.readAllBytes();
                }
            }
            return new String(b, StandardCharsets.UTF_8).trim();
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read store lock " + path, e);
        }
    }

    private static Long mtime(String path) {
        try {
            if (isLocal(path)) return Files.getLastModifiedTime(local(path)).toMillis();
            return StageOutput.fs(path).getFileStatus(new Path(StageOutput.qualify(path))).getModificationTime();
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean exists(String path) {
        return mtime(path) != null;
    }

    private static boolean rename(String from, String to) {
        try {
            if (isLocal(from)) {
                Files.move(local(from), local(to), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                return true;
            }
            return StageOutput.fs(from).rename(new Path(StageOutput.qualify(from)), new Path(StageOutput.qualify(to)));
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            log.warn("cannot rename store lock {}: {}", from, e.toString());
            return false;
        }
    }

    /** Moves {@code from} back to {@code to} unless a lock exists there again. */
    private static boolean restore(String from, String to) {
        try {
            if (isLocal(from)) {
                Files.createLink(local(to), local(from)); // fails if {@code to} exists, unlike rename
                Files.deleteIfExists(local(from));
                return true;
            }
            return StageOutput.fs(from).rename(new Path(StageOutput.qualify(from)), new Path(StageOutput.qualify(to)));
        } catch (IOException e) {
            return false;
        }
    }

    private static void delete(String path) {
        try {
            if (isLocal(path)) Files.deleteIfExists(local(path));
            else StageOutput.fs(path).delete(new Path(StageOutput.qualify(path)), false);
        } catch (IOException e) {
            log.warn("cannot delete store lock {}: {}", path, e.toString());
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a store lock", e);
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return ManagementFactory.getRuntimeMXBean().getName();
        }
    }
}
