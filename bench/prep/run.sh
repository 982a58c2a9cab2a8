#!/usr/bin/env bash
# Prep benchmark: per-core decode/resize/encode rates of prep's codec path (Java, OpenCV) against Pillow on the
# same ImageNet-sized JPEG tiles, plus the whole prep stage on them. Results go to BENCHMARKS.md ("Prep").
# usage: bench/prep/run.sh [per-class=100] [runs=5]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="$ROOT/bench/prep/work"          # ignored (work/)
PER="${1:-100}"; RUNS="${2:-5}"
# the images: JPEG tiles of real photographs at ImageNet sizes (bench/prep/make_tiles.py; Debian photographs)
missing=()
for p in python3-pil mate-backgrounds; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/prep: installing ${missing[*]} (the tiles' photographs and Pillow)" >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -d "$W/tiles/train" ] || /usr/bin/python3 "$ROOT/bench/prep/make_tiles.py" "$W/tiles" --per-class "$PER" --classes 4
cd "$ROOT"
mvn -B -o -q -pl core,data-prep install -DskipTests
mvn -B -o -q -pl core,data-prep test-compile
CP="data-prep/target/classes:data-prep/target/test-classes:core/target/classes:$(mvn -B -o -q -pl data-prep dependency:build-classpath -Dmdep.outputFile=/dev/stdout)"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
# one thread each: per-core rates
# JPEG through the system's SIMD libjpeg-turbo (TurboJPEG, when libturbojpeg0 is installed), then through OpenCV's
# bundled non-SIMD build
echo "== codec: default (TurboJPEG when available)"
java -Xmx2g -cp "$CP" io.robustok.data.PrepBench "$W/tiles/train" "$RUNS"
echo "== codec: OpenCV (-Drobustok.turbojpeg=false)"
java -Xmx2g -Drobustok.turbojpeg=false -cp "$CP" io.robustok.data.PrepBench "$W/tiles/train" "$RUNS"
echo "== demo training transform (ImageBatcher, one thread)"
java -Xmx1g -cp "$CP" io.robustok.data.ImageBatcherBench
for m in decode reencode policy; do /usr/bin/python3 bench/prep/pillow_prep.py "$W/tiles/train" "$m" --runs "$RUNS"; done
