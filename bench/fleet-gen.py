#!/usr/bin/env python3
# fleet-gen.py: write fingerprint manifests (dump.erofs(1), FINGERPRINT MANIFESTS) of a synthetic fleet of container images, one file per image.
#
# Usage: bench/fleet-gen.py [-n IMAGES] [-f FILES] [--seed N] DIR
#
# Writes DIR/img-0000.jsonl ... in the format dump.erofs --fingerprints
# writes, for a fleet shaped like a registry's (all counts scale with -f,
# the files per image, default 20000):
#   - 20 base distributions, 5 versions each, of 60% of the files; two
#     versions of one distribution differ in 10% of its files (same paths,
#     other contents and sizes);
#   - 30 language runtimes, 3 versions each, of 25% of the files, versions
#     differing in 15%;
#   - an application layer of 15% of the files, its own contents, its
#     paths drawn from a pool that applications share (/app/index.js ...).
# Each image takes one base version and one runtime version at random.
# 10% of the images are compressed (their files are of the compressed
# layout class: those contents cannot share with the uncompressed ones), 5%
# are not share-ready (their fingerprints are computed, not recorded).
# Each image has a directory line per 12 files and a few hard links.
# Everything is deterministic for a given seed: the manifests of the first
# N images are the same whatever -n says.
import argparse
import hashlib
import os
import random
import sys

PAGE = 4096

ap = argparse.ArgumentParser()
ap.add_argument('-n', type=int, default=1000)
ap.add_argument('-f', type=int, default=20000)
ap.add_argument('--seed', type=int, default=1)
ap.add_argument('dir')
args = ap.parse_args()
os.makedirs(args.dir, exist_ok=True)


def fp_hex(tag):
    # the xattr value "sha256:" + digest, in hexadecimal
    return '7368613235363a' + hashlib.sha256(tag.encode()).hexdigest()


def size_of(rng):
    # mostly small files, some large: roughly what /usr holds
    return max(1, int(rng.lognormvariate(8.5, 1.8)))


def layer(name, versions, nfiles, change, rng, prefix):
    """[(path, size, fp) per file] for each version of a layer."""
    files = []
    for k in range(nfiles):
        d = '%s/d%03d' % (prefix, k % 97)
        files.append(('%s/f%05d.%s' % (d, k, name), size_of(rng)))
    # the versions that changed each file
    steps = [[st for st in range(1, versions) if rng.random() < change]
             for _ in files]
    out = []
    for v in range(versions):
        cur = []
        for k, (path, size) in enumerate(files):
            gen = max([st for st in steps[k] if st <= v], default=0)
            cur.append((path, size + gen * 17,
                        fp_hex('%s/%d/%d' % (name, k, gen))))
        out.append(cur)
    return out


def main():
    rng = random.Random(args.seed)
    nbase = int(args.f * 0.60)
    nrt = int(args.f * 0.25)
    napp = args.f - nbase - nrt
    bases = [layer('base%02d' % b, 5, nbase, 0.10, rng, '/usr/lib/b%02d' % b)
             for b in range(20)]
    runtimes = [layer('rt%02d' % r, 3, nrt, 0.15, rng, '/opt/rt%02d' % r)
                for r in range(30)]
    app_pool = ['/app/m%03d/%s%04d.js' % (k % 211, 'x', k)
                for k in range(napp * 40)]
    for i in range(args.n):
        irng = random.Random('image/%d/%d' % (args.seed, i))
        base = bases[irng.randrange(20)][irng.randrange(5)]
        rt = runtimes[irng.randrange(30)][irng.randrange(3)]
        compressed = irng.random() < 0.10
        ready = irng.random() >= 0.05
        name = 'fleet/img-%04d.erofs' % i
        uuid = '%08x-0000-4000-8000-%012x' % (i, args.seed)
        ident = '"image":"%s","uuid":"%s"' % (name, uuid)
        cls = 'compressed' if compressed else 'uncompressed'
        source = ('"source":"recorded","verified":null' if ready else
                  '"source":"computed","verified":true')
        apps = irng.sample(range(len(app_pool)), napp)
        files = base + rt + [(app_pool[k], size_of(irng),
                              fp_hex('app/%d/%d' % (i, k))) for k in apps]
        lines = ['{"kind":"image",%s,"manifest":1,"block_size":4096,'
                 '"page_size":%d,"share_ready":%s,"fingerprint_xattr":%s,'
                 '"verified":false}\n' %
                 (ident, PAGE, 'true' if ready else 'false',
                  '"trusted.erofs.fingerprint"' if ready else 'null'),
                 '{"kind":"device",%s,"device":0,"tag":null,"bytes":%d,'
                 '"file_host":null,"file_dev":null,"file_ino":null,'
                 '"file_offset":0}\n' %
                 (ident, sum(f[1] for f in files) // 2 + (1 << 20))]
        head = '{"kind":"file",%s,"seq":' % ident
        mid = ',"class":"%s","fingerprint":"' % cls
        tail = '",%s}\n' % source
        dirs = 0
        for k, (path, size, fp) in enumerate(files):
            if k % 12 == 0:
                lines.append('{"kind":"dir",%s,"size":%d,"pages":%d}\n' %
                             (ident, 2048, 1))
                dirs += 1
            lines.append('%s%d,"path":"%s","size":%d,"pages":%d%s%s%s' %
                         (head, k, path, size, -(-size // PAGE), mid, fp,
                          tail))
        lines.append('{"kind":"end",%s,"files":%d,"links":%d,"dirs":%d}\n' %
                     (ident, len(files), len(files) + 7, dirs))
        tmp = os.path.join(args.dir, '.img-%04d.jsonl' % i)
        with open(tmp, 'w') as f:
            f.write(''.join(lines))
        os.rename(tmp, os.path.join(args.dir, 'img-%04d.jsonl' % i))
        if i % 100 == 99:
            print('fleet-gen: %d images' % (i + 1), file=sys.stderr)


main()
