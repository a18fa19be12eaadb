#!/usr/bin/env python3
# share_groups.py: the best grouping of images onto nodes, by trying every partition, from fingerprint manifests: the oracle for dump.erofs --nodes and --node-memory.
"""
Usage: share_groups.py (--nodes K | --node-memory BYTES) [--page-size N]
                       [--report JSON] MANIFEST...

Reads the manifests as dump.erofs(1) describes them, on its own, and counts
a node's page cache as the grouping does: one copy of each recorded
fingerprint value, size and layout class held by the node's images, plus
every other file (without a recorded fingerprint, or in an image that is
not share-ready). It tries every partition of the images (10 images: 115975)
under the same rules (at most ceil(images / K) images on each of at most K
nodes; or nodes of at most BYTES, an image larger than that alone) and
prints, as KEY=VALUE lines:
  IMAGES        the number of images
  BEST_BYTES    the least page cache of any grouping (the fewest nodes first
                with --node-memory)
  BEST_NODES    the nodes it uses
  REPORT_BYTES  (with --report) the page cache of the report's grouping,
                counted here
  REPORT_NODES  its nodes
  REPORT_FITS   1 when the report's grouping keeps the rules
"""
import argparse
import json
import sys


def load(paths, page_size):
    images = []  # names
    priv = []  # per image: bytes of files no other file can share
    keys = {}  # (fingerprint, size, class) -> set of images
    key_bytes = {}
    for path in paths:
        with open(path, encoding='utf-8', errors='surrogateescape') as f:
            for line in f:
                if not line.strip():
                    continue
                o = json.loads(line)
                if o['kind'] == 'image':
                    images.append(o['image'])
                    priv.append(0)
                    ready = o['share_ready']
                elif o['kind'] == 'file':
                    i = len(images) - 1
                    b = -(-o['size'] // page_size) * page_size
                    if ready and o['source'] == 'recorded':
                        k = (o['fingerprint'], o['size'], o['class'])
                        keys.setdefault(k, set()).add(i)
                        key_bytes[k] = b
                    else:
                        priv[i] += b
    atoms = {}
    for k, imgs in keys.items():
        m = 0
        for i in imgs:
            m |= 1 << i
        atoms[m] = atoms.get(m, 0) + key_bytes[k]
    return images, priv, atoms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nodes', type=int)
    ap.add_argument('--node-memory', type=int)
    ap.add_argument('--page-size', type=int, default=4096)
    ap.add_argument('--report')
    ap.add_argument('manifests', nargs='+')
    a = ap.parse_args()
    images, priv, atoms = load(a.manifests, a.page_size)
    n = len(images)
    if n > 12:
        sys.exit('share_groups.py: %d images: too many to try them all' % n)
    mem = [0] * (1 << n)
    for s in range(1, 1 << n):
        b = sum(priv[i] for i in range(n) if s >> i & 1)
        b += sum(v for m, v in atoms.items() if m & s)
        mem[s] = b
    budget = a.node_memory
    maxb = a.nodes if a.nodes else n
    cap = -(-n // a.nodes) if a.nodes else n

    def ok(block):
        if bin(block).count('1') > cap:
            return False
        return not budget or mem[block] <= budget or \
            bin(block).count('1') == 1

    best = [None]

    def better(nb, total):
        if best[0] is None:
            return True
        bn, bt = best[0]
        if budget and nb != bn:
            return nb < bn
        return total < bt

    blocks = []

    def rec(i):
        if i == n:
            if all(ok(b) for b in blocks):
                total = sum(mem[b] for b in blocks)
                if better(len(blocks), total):
                    best[0] = (len(blocks), total)
            return
        for k in range(len(blocks)):
            if bin(blocks[k]).count('1') < cap:
                blocks[k] |= 1 << i
                rec(i + 1)
                blocks[k] &= ~(1 << i)
        if len(blocks) < maxb:
            blocks.append(1 << i)
            rec(i + 1)
            blocks.pop()

    rec(0)
    print('IMAGES=%d' % n)
    print('BEST_BYTES=%d' % best[0][1])
    print('BEST_NODES=%d' % best[0][0])
    if a.report:
        with open(a.report) as f:
            g = json.load(f)['grouping']
        sets = [sum(1 << i for i in s['images']) for s in g['sets']]
        print('REPORT_BYTES=%d' % sum(mem[s] for s in sets))
        print('REPORT_NODES=%d' % len(sets))
        covered = 0
        for s in sets:
            covered |= s
        fits = all(ok(s) for s in sets) and len(sets) <= maxb and \
            covered == (1 << n) - 1 and \
            sum(bin(s).count('1') for s in sets) == n
        print('REPORT_FITS=%d' % fits)


main()
