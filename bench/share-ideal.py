#!/usr/bin/env python3
"""share-ideal.py: the page cache a set of source trees needs with and without content sharing, from the files themselves.

Usage: share-ideal.py [--page-size N] [--json] [--classes I:FILE]... TREE...

The ground truth the kernel measurements and the share report are judged
against, computed independently of our tools (Python's hashlib reads every
byte). For each tree, every regular file inode counts once however many
hard links name it, and holds its size rounded up to whole pages. Without
sharing the page cache holds every tree's pages; with sharing it holds one
copy of each distinct content (equal bytes, hence equal size) however many
inodes in however many trees have it. Empty files hold nothing.

--classes I:FILE gives the layout class of tree I's files: FILE holds lines
"RELPATH<TAB>CLASS" (e.g. "usr/bin/x<TAB>compressed"); unlisted files are
class "plain". The kernel shares only within one class (compressed files
with compressed ones), so with classes a content counts once per class.

Prints KEY=VALUE lines (sizes in bytes):
  TREE<i>_FILES      regular file inodes of tree i
  TREE<i>_BYTES      their total size
  TREE<i>_PAGES_BYTES  their total size in whole pages
  NOSHARE_BYTES      sum of TREE<i>_PAGES_BYTES
  SHARE_BYTES        pages of the distinct contents of all trees
  SAVING_BYTES       NOSHARE_BYTES - SHARE_BYTES
  SAVING_PERCENT     100 * SAVING_BYTES / NOSHARE_BYTES
  CROSS_SAVING_BYTES the part of the saving from contents found in more
                     than one tree (the rest is duplicates within a tree)
  SHARED_CONTENTS    distinct contents held by two or more inodes
"""
import hashlib
import json
import os
import stat
import sys


def digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.digest()


def scan(tree):
    """Distinct regular inodes of a tree: {(dev, ino): path}."""
    inodes = {}
    for root, dirs, files in os.walk(tree):
        for name in files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                inodes.setdefault((st.st_dev, st.st_ino), (p, st.st_size))
    return inodes


def main(argv):
    page = 4096
    as_json = False
    trees = []
    classes = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '--page-size':
            page = int(argv[i + 1])
            i += 1
        elif a.startswith('--page-size='):
            page = int(a.split('=', 1)[1])
        elif a == '--json':
            as_json = True
        elif a == '--classes' or a.startswith('--classes='):
            if a == '--classes':
                a = argv[i + 1]
                i += 1
            else:
                a = a.split('=', 1)[1]
            idx, path = a.split(':', 1)
            m = classes.setdefault(int(idx), {})
            with open(path) as f:
                for line in f:
                    rel, _, cls = line.rstrip('\n').partition('\t')
                    m[rel.lstrip('/')] = cls
        elif a in ('-h', '--help'):
            print(__doc__)
            return 0
        else:
            trees.append(a)
        i += 1
    if not trees:
        print(__doc__, file=sys.stderr)
        return 2

    pages = lambda size: -(-size // page) * page
    out = {}
    # content -> (size, set of trees holding it, inode count)
    contents = {}
    noshare = 0
    for t, tree in enumerate(trees):
        inodes = scan(tree)
        cmap = classes.get(t, {})
        nbytes = npages = 0
        for path, size in inodes.values():
            nbytes += size
            npages += pages(size)
            if size == 0:
                continue
            # a hard link's class is its inode's: any listed name will do
            key = (digest(path), cmap.get(os.path.relpath(path, tree),
                                          'plain'))
            c = contents.setdefault(key, [size, set(), 0])
            c[1].add(t)
            c[2] += 1
        out['TREE%d_FILES' % t] = len(inodes)
        out['TREE%d_BYTES' % t] = nbytes
        out['TREE%d_PAGES_BYTES' % t] = npages
        noshare += npages
    share = sum(pages(c[0]) for c in contents.values())
    # a content in k trees would be held k times by per-tree sharing alone
    cross = sum(pages(c[0]) * (len(c[1]) - 1) for c in contents.values())
    out['NOSHARE_BYTES'] = noshare
    out['SHARE_BYTES'] = share
    out['SAVING_BYTES'] = noshare - share
    out['SAVING_PERCENT'] = round(100.0 * (noshare - share) / noshare, 3) \
        if noshare else 0.0
    out['CROSS_SAVING_BYTES'] = cross
    out['SHARED_CONTENTS'] = sum(1 for c in contents.values() if c[2] > 1)
    if as_json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print('%s=%s' % (k, v))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
