#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small images that claim enormous work, built from an image of our mkfs
with one file ("/bomb", the last inode, so that its map can grow past the
end), each one a way a reader could be made to run out of time or memory,
used by tests/t-budgets.py (exit codes, peak RSS) and bench/hostile.sh
(times).

  holes       a file claiming 64 GiB of holes behind a fingerprint (8 KB)
  bomb        a file whose 48-bit extent records (32 bytes each) all name
              one cluster of zeroes decoding to 12 MiB: ~250 GB of content
              in 704 KB
  maps        a file of full lcluster indexes, each a head naming the same
              one-block cluster: MB of maps that a reader holding them
              whole needs ~8 times of

Usage as a program:
  hostile_images.py KIND OUT [--ishare] [--size=BYTES]
"""
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import MKFS, SB, Image  # noqa: E402

BLKSZ = 4096
MAX_DSIZE = 12 << 20  # Z_EROFS_PCLUSTER_MAX_DSIZE
ADVISE_EXTENTS = 0x0001
EXTRECSZ_32 = 3 << 1  # records of 4 << 3 bytes
LAYOUT_FULL = 1
HEAD1 = 1
PLEN_FMT_BIT = 28
LZ4 = 0


def lz4_zeros(n):
    """An LZ4 block decoding to exactly n zero bytes: one literal, one
    match back one byte, the last five bytes literals."""
    assert n >= 16
    out = bytearray()
    ml = n - 1 - 5
    out.append((1 << 4) | 15)
    out.append(0)  # the literal
    out += struct.pack('<H', 1)  # offset
    rest = ml - 4 - 15
    while rest >= 255:
        out.append(255)
        rest -= 255
    out.append(rest)
    out.append(5 << 4)
    out += bytes(5)
    return bytes(out)


def cluster(n):
    """A physical cluster (lz4, zero padded in front) decoding to n zero
    bytes: (its bytes, whole blocks)."""
    comp = lz4_zeros(n)
    plen = -(-len(comp) // BLKSZ) * BLKSZ
    return bytes(plen - len(comp)) + comp, plen


def base_image(work, ishare):
    """Our mkfs's image of one compressed file /bomb (an extended inode)."""
    src = os.path.join(work, 'src')
    os.makedirs(src, exist_ok=True)
    path = os.path.join(src, 'bomb')
    with open(path, 'wb') as f:
        f.write(b'a' * 100000)
    os.utime(path, (1000, 1000))
    img = os.path.join(work, 'base.img')
    opts = ['--quiet', '-zlz4', '-T1700000000', '--mkfs-time']
    if ishare:
        opts.append('--ishare')
    subprocess.run([MKFS] + opts + [img, src], check=True)
    im = Image(img)
    # the file is the root's only entry: the inode after the root's
    nid = im.dirent_nid(b'bomb')
    return im, nid


def finish(im, nid, size, layout, body_at, body, out):
    """Set /bomb's size and layout, put "body" at byte "body_at" (the image
    cut there), and fix the block count and checksum."""
    p = im.iloc(nid)
    fmt = struct.unpack_from('<H', im.b, p)[0]
    if not fmt & 1:
        raise RuntimeError('/bomb is not an extended inode')
    struct.pack_into('<H', im.b, p, (fmt & ~0xe) | layout << 1)
    struct.pack_into('<Q', im.b, p + 8, size)
    del im.b[body_at:]
    im.b += bytes(body_at - len(im.b)) + body
    im.b += bytes(-len(im.b) % BLKSZ)
    struct.pack_into('<I', im.b, SB + 0x24, len(im.b) // BLKSZ)
    im.save(out)


def map_start(im, nid):
    _, _, _, _, isize, xsize = im.inode(nid)
    return (im.iloc(nid) + isize + xsize + 7) & ~7


def make_bomb(work, out, ishare=False, image_bytes=704 << 10):
    """48-bit extent records naming one 12 MiB cluster of zeroes."""
    im, nid = base_image(work, ishare)
    hpos = map_start(im, nid)
    ipos = (hpos + 8 + 31) & ~31
    data, plen = cluster(MAX_DSIZE)
    n = max(2, (image_bytes - ipos - plen) // 32)
    pa = -(-(ipos + 32 * n) // BLKSZ) * BLKSZ
    head = struct.pack('<IHBB', n, ADVISE_EXTENTS | EXTRECSZ_32, 0, 0)
    recs = bytearray()
    plen_field = plen | (LZ4 + 1) << PLEN_FMT_BIT
    for i in range(n):
        la = i * MAX_DSIZE
        recs += struct.pack('<IIIII12x', plen_field, pa & 0xffffffff,
                            pa >> 32, la & 0xffffffff, la >> 32)
    body = head + bytes(ipos - hpos - 8) + recs
    body += bytes(pa - hpos - len(body)) + data
    finish(im, nid, n * MAX_DSIZE, LAYOUT_FULL, hpos, body, out)
    return n * MAX_DSIZE


def make_maps(work, out, ishare=False, map_bytes=16 << 20):
    """Full lcluster indexes, every lcluster a head of the same cluster."""
    im, nid = base_image(work, ishare)
    hpos = map_start(im, nid)
    ipos = hpos + 16
    n = map_bytes // 8
    pa = -(-(ipos + 8 * n) // BLKSZ) * BLKSZ
    data, plen = cluster(BLKSZ)
    assert plen == BLKSZ
    head = struct.pack('<IHBB', 0, 0, LZ4, 0) + bytes(8)
    index = struct.pack('<HHI', HEAD1, 0, pa // BLKSZ) * n
    body = head + index
    body += bytes(pa - hpos - len(body)) + data
    finish(im, nid, n * BLKSZ, LAYOUT_FULL, hpos, body, out)
    return n * BLKSZ


def make_holes(work, out, ishare=True, size=64 << 30):
    """A flat file with no block at all: "size" bytes of hole."""
    im, nid = base_image(work, ishare)
    p = im.iloc(nid)
    fmt = struct.unpack_from('<H', im.b, p)[0]
    struct.pack_into('<H', im.b, p, fmt & ~0xe)  # flat, no tail
    struct.pack_into('<H', im.b, p + 6, 0xffff)  # i_nb: no block either
    struct.pack_into('<Q', im.b, p + 8, size)
    struct.pack_into('<I', im.b, p + 16, 0xffffffff)  # null address
    del im.b[-(-(map_start(im, nid)) // BLKSZ) * BLKSZ:]
    struct.pack_into('<I', im.b, SB + 0x24, len(im.b) // BLKSZ)
    im.save(out)
    return size


KINDS = {'bomb': make_bomb, 'maps': make_maps, 'holes': make_holes}


def main(argv):
    if len(argv) < 3 or argv[1] not in KINDS:
        sys.stderr.write(__doc__)
        return 2
    kw = {}
    for a in argv[3:]:
        if a == '--ishare':
            kw['ishare'] = True
        elif a.startswith('--size='):
            kw[{'bomb': 'image_bytes', 'maps': 'map_bytes',
                'holes': 'size'}[argv[1]]] = int(a[7:], 0)
        else:
            sys.stderr.write(__doc__)
            return 2
    with tempfile.TemporaryDirectory() as work:
        claimed = KINDS[argv[1]](work, argv[2], **kw)
    print('%s: %d bytes claiming %d bytes of content' %
          (argv[2], os.path.getsize(argv[2]), claimed))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
