#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Chunk-based and multi-device images from our mkfs.erofs, judged by the
kernel and erofs-utils 1.9.4:

- --chunksize (block maps and -Eforce-chunk-indexes, 4 KiB to 1 MiB);
- --blobdev: the device table, chunk indexes on device 1, dedupe and zero
  chunks, the blob's size against erofs-utils' with the same options,
  every mount form (loop devices, file-backed device=FILE, the metadata
  image followed by its blob in one file), --dsunit;
- --tar=i: 512-byte blocks whatever -b says, the tar as device 1 (from a
  file and from a pipe), containerd's form (the tar appended to the index),
  fingerprints hashed as the tar streams by, --aufs;
- --tar=f --sort=none -Enoinline_data (file data written in archive
  order straight into the image), from a file and from a pipe;
- --tar=headerball (a tar without its file data) read as erofs-utils
  reads it;
- refusals, and a failed build leaving the old image and blob as they were.

Needs root, EROFS in the kernel and loop devices for the mounts; the
erofs-utils checks need Debian unstable's package archive (or a cached
copy) and are skipped with the reason otherwise.
"""
import ctypes
import errno
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import MKFS, FSCK, SB, Image, result, exit_status  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_TOP = os.environ.get('TOP_SRCDIR', os.path.dirname(HERE))
COMPARE = [sys.executable, os.path.join(HERE, 'compare_tree.py')]
UUID = '6b8a2f4e-3c1d-4e5f-9a7b-0c1d2e3f4a5b'
BASE = ['-T', '1700000000', '--mkfs-time', '-U', UUID, '--quiet']


def skip(name, why):
    print('SKIP: %s: %s' % (name, why))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def first_line(p):
    text = (p.stderr or '') + (p.stdout or '')
    return text.strip().splitlines()[0] if text.strip() else \
        'exit %d' % p.returncode


# ---- oracles ------------------------------------------------------------
def kernel_why():
    if os.geteuid() != 0:
        return 'needs root to mount images'
    with open('/proc/filesystems') as f:
        if 'erofs' not in f.read():
            run(['modprobe', 'erofs'])
    with open('/proc/filesystems') as f:
        if 'erofs' not in f.read():
            return 'kernel has no EROFS support'
    if run(['losetup', '-f']).returncode:
        return 'no free loop device'
    return None


EU = None
EU_WHY = None


def eu_bin():
    global EU, EU_WHY
    if EU or EU_WHY:
        return EU
    p = run(['bash', os.path.join(SRC_TOP, 'tests/oracle/erofs-utils-new.sh')])
    out = p.stdout.strip()
    if p.returncode or not os.path.exists(os.path.join(out, 'fsck.erofs')):
        EU_WHY = 'newest erofs-utils unavailable (exit %d: %s)' % (
            p.returncode, (p.stderr.strip().splitlines() or [''])[-1])
        return None
    EU = out
    return EU


_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 1


def sys_mount(source, target, data):
    """mount(2) itself: util-linux would put a loop device under a file."""
    r = _libc.mount(source.encode(), target.encode(), b'erofs',
                    MS_RDONLY, data.encode() if data else None)
    return 0 if r == 0 else ctypes.get_errno()


def umount(target):
    run(['umount', target])


class Loops:
    """Loop devices set up by a test, detached at the end."""

    def __init__(self):
        self.devs = []

    def attach(self, path, blksz=None):
        cmd = ['losetup', '-f', '--show', '-r']
        if blksz:
            cmd += ['-b', str(blksz)]
        p = run(cmd + [path])
        if p.returncode:
            raise RuntimeError('losetup %s: %s' % (path, first_line(p)))
        dev = p.stdout.strip()
        self.devs.append(dev)
        return dev

    def detach_all(self):
        for d in self.devs:
            run(['losetup', '-d', d])
        self.devs = []


def compare(ref, mnt, extra=()):
    p = run(COMPARE + list(extra) + [ref, mnt])
    return p.returncode == 0, first_line(p) if p.returncode else ''


def check_mounted(name, source, mnt, data, ref, extra=()):
    """Mount with mount(2), compare with "ref", unmount."""
    err = sys_mount(source, mnt, data)
    if err:
        result(False, name, 'mount(%s, %s): %s' % (source, data,
                                                   os.strerror(err)))
        return
    try:
        ok, why = compare(ref, mnt, extra)
        result(ok, name, why)
    finally:
        umount(mnt)


# ---- image parsing ------------------------------------------------------
def devices(img):
    """(extra_devices, slot offset, [(tag, blocks, uniaddr)])."""
    b = img.b
    extra, slotoff = struct.unpack_from('<HH', b, SB + 86)
    slots = []
    for i in range(extra):
        p = slotoff * 128 + i * 128
        tag = bytes(b[p:p + 64]).rstrip(b'\0')
        blocks, uniaddr = struct.unpack_from('<II', b, p + 64)
        slots.append((tag, blocks, uniaddr))
    return extra, slotoff, slots


def nid_by_eu(img_path, path):
    """The nid of "path", found by erofs-utils' dump (needs no device)."""
    p = run([os.path.join(EU, 'dump.erofs'), '--path=' + path, img_path])
    for line in p.stdout.splitlines():
        if line.startswith('NID:'):
            return int(line.split()[1])
    raise ValueError('no NID for %s: %s' % (path, first_line(p)))


def chunk_map(img, nid):
    """(format, chunk size, [(device_id, blk or None)]) of a chunked file."""
    fmt, mode, size, i_u, isize, xsize = img.inode(nid)
    assert (fmt >> 1) & 7 == 4, 'nid %d is not chunk-based' % nid
    cfmt = i_u & 0xffff
    csize = img.blksz << (cfmt & 0x1f)
    unit = 8 if cfmt & 0x20 else 4
    pos = img.iloc(nid) + isize + xsize
    pos = (pos + unit - 1) // unit * unit
    out = []
    for i in range((size + csize - 1) // csize):
        if unit == 8:
            hi, dev, lo = struct.unpack_from('<HHI', img.b, pos + 8 * i)
            out.append((dev, None if lo == 0xffffffff else lo))
        else:
            lo = struct.unpack_from('<I', img.b, pos + 4 * i)[0]
            out.append((0, None if lo == 0xffffffff else lo))
    return cfmt, csize, out


# ---- sources ------------------------------------------------------------
SIZES = {'empty': 0, 'one': 1, 'f4095': 4095, 'f4096': 4096,
         'f4097': 4097, 'big': 300000}


def make_tree(d):
    rnd = os.urandom
    os.makedirs(d)
    data = {}
    for name, size in SIZES.items():
        data[name] = rnd(size)
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data[name])
    with open(os.path.join(d, 'bigcopy'), 'wb') as f:
        f.write(data['big'])
    # its first chunk equals f4096
    with open(os.path.join(d, 'share1'), 'wb') as f:
        f.write(data['f4096'] + rnd(5000))
    with open(os.path.join(d, 'zeros'), 'wb') as f:
        f.write(b'\0' * 16384)
    with open(os.path.join(d, 'sparse'), 'wb') as f:
        f.truncate(1 << 20)
        f.seek(900000)
        f.write(rnd(1000))
    # holes at the start, in the middle and at the end
    with open(os.path.join(d, 'holes'), 'wb') as f:
        f.truncate(3 << 20)
        for at in (300000, 1 << 20, (1 << 20) + 70000, 2 << 20):
            f.seek(at)
            f.write(rnd(9000))
    os.makedirs(os.path.join(d, 'sub/deeper'))
    with open(os.path.join(d, 'sub/deeper/copy-of-one'), 'wb') as f:
        f.write(data['one'])
    os.link(os.path.join(d, 'big'), os.path.join(d, 'sub/hardlink'))
    os.symlink('t' * 200, os.path.join(d, 'sub/symlink'))
    os.mkfifo(os.path.join(d, 'fifo'))
    if os.geteuid() == 0:
        os.mknod(os.path.join(d, 'chr'), 0o20644, os.makedev(1, 3))
    os.setxattr(os.path.join(d, 'one'), 'user.note', b'a value')
    try:
        os.setxattr(os.path.join(d, 'big'), 'trusted.t', b'x' * 100)
    except OSError:
        pass


def make_layer_tar(path, aufs=False):
    """A PAX layer as container tools write them: every kind of entry."""
    rnd = os.urandom

    def add(t, name, kind, data=b'', **kw):
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        ti.uid = kw.get('uid', 0)
        ti.gid = kw.get('gid', 0)
        ti.mode = kw.get('mode', 0o644)
        ti.type = kind
        if kind == tarfile.REGTYPE:
            ti.size = len(data)
        ti.linkname = kw.get('link', '')
        if 'dev' in kw:
            ti.devmajor, ti.devminor = kw['dev']
        ti.pax_headers = kw.get('pax', {})
        t.addfile(ti, __import__('io').BytesIO(data) if data else None)

    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as t:
        add(t, 'etc', tarfile.DIRTYPE, mode=0o755)
        add(t, 'etc/empty', tarfile.REGTYPE)
        add(t, 'etc/one', tarfile.REGTYPE, b'1')
        add(t, 'etc/b513', tarfile.REGTYPE, rnd(513), uid=1000, gid=1000)
        add(t, 'etc/xattrs', tarfile.REGTYPE, rnd(3000),
            pax={'SCHILY.xattr.user.k': 'v', 'SCHILY.xattr.trusted.o': 'y'})
        big = rnd(300000)
        add(t, 'usr', tarfile.DIRTYPE, mode=0o755)
        add(t, 'usr/big', tarfile.REGTYPE, big)
        add(t, 'usr/bigcopy', tarfile.REGTYPE, big)
        add(t, 'usr/m1', tarfile.REGTYPE, rnd((1 << 20) + 1), mode=0o755)
        add(t, 'usr/hard', tarfile.LNKTYPE, link='usr/big')
        add(t, 'usr/sym', tarfile.SYMTYPE, link='../etc/one', mode=0o777)
        add(t, 'usr/' + 'n' * 200, tarfile.REGTYPE, rnd(700))
        add(t, 'dev', tarfile.DIRTYPE, mode=0o755)
        add(t, 'dev/null', tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
        add(t, 'dev/fifo', tarfile.FIFOTYPE)
        if aufs:
            add(t, 'etc/.wh.gone', tarfile.REGTYPE)
            add(t, 'opq', tarfile.DIRTYPE, mode=0o755)
            add(t, 'opq/.wh..wh..opq', tarfile.REGTYPE)
            add(t, 'opq/new', tarfile.REGTYPE, b'new')


def tar_data_offsets(path):
    """{name: data offset} and the end of the last member's data."""
    offs, end = {}, 0
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.isreg():
                offs[m.name] = m.offset_data
            end = m.offset_data + (m.size + 511) // 512 * 512 \
                if m.isreg() else m.offset_data
    return offs, end


def mkfs(args, stdin=None):
    return run([MKFS] + BASE + args, stdin=stdin)


def mkfs_piped(args, path):
    """mkfs with the file "path" on a pipe as its standard input, written
    by a thread as containerd's differ writes the layer."""
    rfd, wfd = os.pipe()

    def feed():
        try:
            with open(path, 'rb') as f, os.fdopen(wfd, 'wb') as out:
                shutil.copyfileobj(f, out)
        except BrokenPipeError:
            pass

    t = threading.Thread(target=feed)
    t.start()
    try:
        return mkfs(args, stdin=rfd)
    finally:
        os.close(rfd)
        t.join()


# ---- the checks ---------------------------------------------------------
def check_chunksize(w, src, kwhy):
    mnt = os.path.join(w, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    for cs in (4096, 16384, 65536, 1 << 20):
        for idx in (False, True):
            name = '--chunksize=%d%s' % (cs, ' -Eforce-chunk-indexes'
                                         if idx else '')
            img = os.path.join(w, 'c.img')
            args = ['--chunksize=%d' % cs] + \
                (['-Eforce-chunk-indexes'] if idx else []) + [img, src]
            p = mkfs(args)
            if p.returncode:
                result(False, name, first_line(p))
                continue
            im = Image(img)
            result(im.incompat & 0x4 and not im.incompat & 0x8,
                   name + ': chunked_file, no device table',
                   'incompat 0x%x' % im.incompat)
            if kwhy:
                skip(name + ': kernel mount', kwhy)
            else:
                loops = Loops()
                try:
                    dev = loops.attach(img)
                    check_mounted(name + ': kernel reads it back', dev,
                                  mnt, None, src)
                finally:
                    loops.detach_all()
            p = run([FSCK, img])
            result(p.returncode == 0, name + ': our fsck', first_line(p))
            if eu_bin():
                p = run([os.path.join(EU, 'fsck.erofs'), img])
                result(p.returncode == 0, name + ': erofs-utils fsck',
                       first_line(p))
                if not idx:
                    # its extraction drops trailing holes with indexes
                    ex = os.path.join(w, 'ex')
                    shutil.rmtree(ex, ignore_errors=True)
                    p = run([os.path.join(EU, 'fsck.erofs'),
                             '--extract=' + ex, '--xattrs', img])
                    ok, why = (p.returncode == 0, first_line(p))
                    if ok:
                        ok, why = compare(src, ex)
                    result(ok, name + ': erofs-utils extracts the source',
                           why)
                    shutil.rmtree(ex, ignore_errors=True)
            else:
                skip(name + ': erofs-utils', EU_WHY)


def check_blobdev(w, src, kwhy):
    mnt = os.path.join(w, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    img, blob = os.path.join(w, 'b.img'), os.path.join(w, 'b.blob')
    p = mkfs(['--chunksize=4096', '--blobdev=' + blob, '--ishare', img, src])
    if p.returncode:
        result(False, '--blobdev build', first_line(p))
        return
    im = Image(img)
    extra, slotoff, slots = devices(im)
    result(im.incompat & 0xc == 0xc and extra == 1,
           '--blobdev: chunked_file and device_table, 1 extra device',
           'incompat 0x%x, %d devices' % (im.incompat, extra))
    blob_blocks = os.path.getsize(blob) // 4096
    prim_blocks = os.path.getsize(img) // 4096
    result(slots and slots[0] == (b'', blob_blocks, prim_blocks) and
           os.path.getsize(img) == im.blocks * 4096,
           '--blobdev: slot: empty tag, blob blocks, after the primary',
           'slot at %d: %r, blob %d blocks, primary %d (sb %d)' % (
               slotoff * 128, slots, blob_blocks, prim_blocks, im.blocks))
    if eu_bin():
        m = {f: chunk_map(im, nid_by_eu(img, '/' + f))[2]
             for f in ('big', 'bigcopy', 'share1', 'f4096', 'zeros')}
        result(all(d == 1 for e in m.values() for d, b in e if b is not None),
               '--blobdev: every chunk on device 1', repr(m['big'][:2]))
        result(m['big'] == m['bigcopy'] and m['share1'][0] == m['f4096'][0],
               '--blobdev: identical files and chunks stored once',
               '%r / %r' % (m['share1'][:1], m['f4096'][:1]))
        result(all(b is None for d, b in m['zeros']),
               '--blobdev: zero chunks are holes', repr(m['zeros']))
        # erofs-utils' blob for the same options
        rimg, rblob = os.path.join(w, 'r.img'), os.path.join(w, 'r.blob')
        p = run([os.path.join(EU, 'mkfs.erofs'), '-T0', '-Uclear',
                 '--chunksize=4096', '--blobdev=' + rblob, rimg, src])
        if p.returncode:
            result(False, 'erofs-utils --blobdev build', first_line(p))
        else:
            ours, theirs = os.path.getsize(blob), os.path.getsize(rblob)
            result(abs(ours - theirs) <= theirs // 100,
                   '--blobdev: blob within 1% of erofs-utils\'',
                   'ours %d, erofs-utils %d' % (ours, theirs))
        p = run([os.path.join(EU, 'fsck.erofs'), '--device=' + blob,
                 '--xattr-inode-digest', img])
        result(p.returncode == 0 and 'skipped' not in p.stdout + p.stderr,
               '--blobdev: erofs-utils verifies every fingerprint',
               first_line(p))
        ex = os.path.join(w, 'ex')
        shutil.rmtree(ex, ignore_errors=True)
        p = run([os.path.join(EU, 'fsck.erofs'), '--device=' + blob,
                 '--extract=' + ex, '--xattrs', img])
        ok, why = p.returncode == 0, first_line(p)
        if ok:
            # erofs-utils 1.9.4 truncates trailing hole chunks of indexes:
            # those files are left out on both sides
            ref = os.path.join(w, 'src-no-trailing-holes')
            shutil.rmtree(ref, ignore_errors=True)
            run(['cp', '-a', src, ref])
            for f in ('zeros', 'sparse', 'holes'):
                os.unlink(os.path.join(ref, f))
                os.unlink(os.path.join(ex, f))
            ok, why = compare(ref, ex, ['--ignore-xattr',
                                        'trusted.erofs.fingerprint',
                                        '--ignore-root-meta',
                                        '--ignore-dir-nlink'])
            shutil.rmtree(ref, ignore_errors=True)
        result(ok, '--blobdev: erofs-utils extracts it (but trailing holes)',
               why)
        shutil.rmtree(ex, ignore_errors=True)
    else:
        skip('--blobdev: erofs-utils checks', EU_WHY)
    # dedupe off: exactly the duplicate bytes more (zero chunks stay holes)
    img2, blob2 = os.path.join(w, 'nd.img'), os.path.join(w, 'nd.blob')
    p = mkfs(['--chunksize=4096', '--blobdev=' + blob2, '-E^dedupe', img2,
              src])
    extra_bytes = (300000 + 4095) // 4096 * 4096 + 4096 + 4096
    result(p.returncode == 0 and os.path.getsize(blob2) -
           os.path.getsize(blob) == extra_bytes,
           '-E^dedupe stores every chunk but zero ones',
           '%s: blob %d, with dedupe %d, want +%d' % (
               first_line(p) if p.returncode else 'ok',
               os.path.getsize(blob2) if os.path.exists(blob2) else -1,
               os.path.getsize(blob), extra_bytes))
    p = run([FSCK, '--device=' + blob, img])
    result(p.returncode == 0, '--blobdev: our fsck with --device',
           first_line(p))
    flat = os.path.join(w, 'flat.img')
    with open(flat, 'wb') as f:
        for part in (img, blob):
            with open(part, 'rb') as g:
                shutil.copyfileobj(g, f)
    p = run([FSCK, flat])
    result(p.returncode == 0, '--blobdev: our fsck of image + blob in one file',
           first_line(p))
    if kwhy:
        skip('--blobdev: kernel mounts', kwhy)
        return
    fp = ['--ignore-xattr', 'trusted.erofs.fingerprint']
    loops = Loops()
    try:
        md, bd = loops.attach(img), loops.attach(blob)
        check_mounted('--blobdev: loop devices, device=/dev/loopN', md, mnt,
                      'device=' + bd, src, fp)
    finally:
        loops.detach_all()
    check_mounted('--blobdev: file-backed, device=FILE', img, mnt,
                  'device=' + blob, src, fp)
    loops = Loops()
    try:
        check_mounted('--blobdev: image and blob in one file, no options',
                      loops.attach(flat), mnt, None, src, fp)
        md = loops.attach(img)
        err = sys_mount(md, mnt, None)
        if err:
            result(False, '--blobdev: the image alone mounts', os.strerror(err))
        else:
            try:
                with open(os.path.join(mnt, 'big'), 'rb') as f:
                    f.read()
                result(False, '--blobdev: the image alone fails to read data',
                       'read succeeded')
            except OSError as e:
                result(e.errno == errno.EIO,
                       '--blobdev: the image alone fails to read data',
                       str(e))
            umount(mnt)
        bd = loops.attach(blob)
        err = sys_mount(md, mnt, 'device=%s,device=%s' % (bd, bd))
        if not err:
            umount(mnt)
        result(err == errno.EINVAL, '--blobdev: a wrong device count is EINVAL',
               os.strerror(err) if err else 'mounted')
    finally:
        loops.detach_all()
    # --dsunit: each file's stored run starts on a multiple of 4 blocks
    img3, blob3 = os.path.join(w, 'ds.img'), os.path.join(w, 'ds.blob')
    p = mkfs(['--chunksize=16384', '--dsunit=4', '--blobdev=' + blob3,
              img3, src])
    if p.returncode:
        result(False, '--dsunit build', first_line(p))
    elif eu_bin():
        im3 = Image(img3)
        starts = []
        for f in ('one', 'f4095', 'big', 'share1', 'sub/deeper/copy-of-one'):
            e = chunk_map(im3, nid_by_eu(img3, '/' + f))[2]
            starts += [b for d, b in e if b is not None][:1]
        result(all(b % 4 == 0 for b in starts),
               '--dsunit=4: each file\'s chunks start on 4 blocks',
               repr(starts))
        check_mounted('--dsunit=4: kernel reads it back', img3, mnt,
                      'device=' + blob3, src)


def check_tar_index(w, kwhy):
    mnt = os.path.join(w, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    tarp = os.path.join(w, 'layer.tar')
    make_layer_tar(tarp)
    ref = os.path.join(w, 'tar-x')
    os.makedirs(ref)
    p = run(['tar', '-xpf', tarp, '--xattrs', '--xattrs-include=*',
             '--numeric-owner', '-C', ref])
    if p.returncode:
        result(False, 'GNU tar extracts the layer', first_line(p))
        return
    offs, end = tar_data_offsets(tarp)
    img = os.path.join(w, 'ti.img')
    p = mkfs(['--tar=i', '-b4096', '--ishare', img, tarp])
    if p.returncode:
        result(False, '--tar=i build', first_line(p))
        return
    im = Image(img)
    extra, slotoff, slots = devices(im)
    result(im.blkszbits == 9 and im.incompat & 0x8 and extra == 1,
           '--tar=i: 512-byte blocks despite -b4096, one extra device',
           'blkszbits %d, incompat 0x%x, %d devices' % (
               im.blkszbits, im.incompat, extra))
    result(slots and slots[0] == (b'', end // 512, im.blocks) and
           os.path.getsize(img) == im.blocks * 512,
           '--tar=i: the slot holds the tar up to its last member',
           'slot %r, tar end %d, primary %d bytes, sb blocks %d' % (
               slots, end, os.path.getsize(img), im.blocks))
    if eu_bin():
        e = chunk_map(im, nid_by_eu(img, '/usr/m1'))[2]
        result(e == [(1, offs['usr/m1'] // 512)],
               '--tar=i: a file is one chunk at its tar data',
               '%r, data at %d' % (e, offs['usr/m1']))
        p = run([os.path.join(EU, 'fsck.erofs'), '--device=' + tarp,
                 '--xattr-inode-digest', img])
        result(p.returncode == 0 and 'skipped' not in p.stdout + p.stderr,
               '--tar=i --ishare: erofs-utils verifies every fingerprint',
               first_line(p))
        ex = os.path.join(w, 'ex')
        shutil.rmtree(ex, ignore_errors=True)
        p = run([os.path.join(EU, 'fsck.erofs'), '--device=' + tarp,
                 '--extract=' + ex, '--xattrs', img])
        ok, why = p.returncode == 0, first_line(p)
        if ok:
            ok, why = compare(ref, ex, ['--ignore-xattr',
                                        'trusted.erofs.fingerprint',
                                        '--ignore-root-meta'])
        result(ok, '--tar=i: erofs-utils extracts the layer', why)
        shutil.rmtree(ex, ignore_errors=True)
    else:
        skip('--tar=i: erofs-utils checks', EU_WHY)
    p = run([FSCK, '--device=' + tarp, img])
    result(p.returncode == 0, '--tar=i: our fsck with --device',
           first_line(p))
    # containerd: the tar on a pipe, then appended to the index
    cimg = os.path.join(w, 'layer.erofs')
    with open(tarp, 'rb') as f:
        p = mkfs(['--tar=i', '--aufs', '-b4096', cimg], stdin=f)
    if p.returncode:
        result(False, 'containerd form: --tar=i from a pipe', first_line(p))
        return
    im2 = Image(cimg)
    result(devices(im2)[2] == [(b'', end // 512, im2.blocks)] and
           os.path.getsize(cimg) == im2.blocks * 512,
           'containerd form: the same device from a pipe, index exactly '
           'its blocks long', '%r, %d bytes' % (devices(im2)[2],
                                                os.path.getsize(cimg)))
    with open(cimg, 'ab') as f, open(tarp, 'rb') as g:
        shutil.copyfileobj(g, f)
    p = run([FSCK, cimg])
    result(p.returncode == 0, 'containerd form: our fsck of index + tar',
           first_line(p))
    if kwhy:
        skip('--tar=i: kernel mounts', kwhy)
        return
    fp = ['--ignore-xattr', 'trusted.erofs.fingerprint', '--ignore-root-meta']
    check_mounted('--tar=i: file-backed, device=TAR', img, mnt,
                  'device=' + tarp, ref, fp)
    loops = Loops()
    try:
        check_mounted('--tar=i: loop devices, device=/dev/loopN',
                      loops.attach(img, 512), mnt,
                      'device=' + loops.attach(tarp, 512), ref, fp)
        check_mounted('containerd form: index + tar mounts with no options',
                      loops.attach(cimg, 512), mnt, None, ref,
                      ['--ignore-root-meta'])
    finally:
        loops.detach_all()
    # --aufs: the index image reads like the full image of the same layer
    atar = os.path.join(w, 'aufs.tar')
    make_layer_tar(atar, aufs=True)
    aimg, fimg = os.path.join(w, 'aufs-i.img'), os.path.join(w, 'aufs-f.img')
    p1 = mkfs(['--tar=i', '--aufs', aimg, atar])
    p2 = mkfs(['--tar=f', '--aufs', fimg, atar])
    if p1.returncode or p2.returncode:
        result(False, '--tar=i --aufs build',
               first_line(p1 if p1.returncode else p2))
        return
    fmnt = os.path.join(w, 'fmnt')
    os.makedirs(fmnt, exist_ok=True)
    err = sys_mount(fimg, fmnt, None)
    if err:
        result(False, '--tar=f --aufs mounts', os.strerror(err))
        return
    try:
        check_mounted('--tar=i --aufs reads like --tar=f --aufs', aimg, mnt,
                      'device=' + atar, fmnt)
    finally:
        umount(fmnt)


def check_sort_none(w, kwhy):
    mnt = os.path.join(w, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    tarp = os.path.join(w, 'layer.tar')
    ref = os.path.join(w, 'tar-x')
    if not os.path.exists(tarp) or not os.path.isdir(ref):
        result(False, '--sort=none', 'the layer of the --tar=i checks is missing')
        return
    offs, end = tar_data_offsets(tarp)
    img, pimg = os.path.join(w, 'sn.img'), os.path.join(w, 'sn-pipe.img')
    args = ['--tar=f', '--sort=none', '-Enoinline_data', '--ishare']
    p = mkfs(args + [img, tarp])
    if p.returncode:
        result(False, '--sort=none build', first_line(p))
        return
    # from a pipe, the fingerprints are computed as the data goes by; from
    # a file, by the data pass reading the image
    p = mkfs_piped(args + [pimg], tarp)
    result(p.returncode == 0 and open(img, 'rb').read() ==
           open(pimg, 'rb').read(),
           '--sort=none: the same image from a pipe as from the file',
           first_line(p) if p.returncode else 'images differ')
    if eu_bin():
        im = Image(img)
        order = sorted((o, n) for n, o in offs.items()
                       if os.path.getsize(os.path.join(ref, n)))
        blks = []
        for o, n in order:
            fmt, mode, size, i_u, isize, xsize = im.inode(
                nid_by_eu(img, '/' + n))
            blks.append(i_u)
        result(blks == sorted(blks) and len(set(blks)) == len(blks),
               '--sort=none: file data in archive order', repr(blks))
        p = run([os.path.join(EU, 'fsck.erofs'), '--xattr-inode-digest',
                 pimg])
        result(p.returncode == 0 and 'skipped' not in p.stdout + p.stderr,
               '--sort=none --ishare: erofs-utils verifies every fingerprint',
               first_line(p))
    else:
        skip('--sort=none: erofs-utils checks', EU_WHY)
    p = run([FSCK, pimg])
    result(p.returncode == 0, '--sort=none: our fsck', first_line(p))
    if kwhy:
        skip('--sort=none: kernel mount', kwhy)
        return
    check_mounted('--sort=none: kernel reads it back', pimg, mnt, None, ref,
                  ['--ignore-xattr', 'trusted.erofs.fingerprint',
                   '--ignore-root-meta', '--fingerprint',
                   'trusted.erofs.fingerprint'])


def headerball(src, dst):
    """The tar "src" without its regular files' data."""
    with tarfile.open(src) as t, open(dst, 'wb') as out:
        for m in t.getmembers():
            out.write(m.tobuf(tarfile.PAX_FORMAT))
        out.write(b'\0' * 1024)


def check_headerball(w, kwhy):
    tarp = os.path.join(w, 'layer.tar')
    hb = os.path.join(w, 'layer.hb')
    headerball(tarp, hb)
    img, eimg = os.path.join(w, 'hb.img'), os.path.join(w, 'hb-eu.img')
    p = mkfs(['--tar=headerball', img, hb])
    if p.returncode:
        result(False, '--tar=headerball build', first_line(p))
        return
    im = Image(img)
    result(im.blkszbits == 12 and not im.incompat & 0x8,
           '--tar=headerball: its own blocks, no device',
           'blkszbits %d, incompat 0x%x' % (im.blkszbits, im.incompat))
    p = run([FSCK, img])
    result(p.returncode == 0, '--tar=headerball: our fsck', first_line(p))
    if not eu_bin():
        skip('--tar=headerball: erofs-utils', EU_WHY)
        return
    p = run([os.path.join(EU, 'mkfs.erofs'), '--quiet'] + BASE[:5] +
            ['--tar=headerball', eimg, hb])
    if p.returncode:
        result(False, 'erofs-utils --tar=headerball build', first_line(p))
        return
    p = run([os.path.join(EU, 'fsck.erofs'), img])
    result(p.returncode == 0, '--tar=headerball: erofs-utils fsck',
           first_line(p))
    if kwhy:
        skip('--tar=headerball: kernel mount', kwhy)
        return
    mnt, emnt = os.path.join(w, 'mnt'), os.path.join(w, 'hb-eu')
    os.makedirs(emnt, exist_ok=True)
    err = sys_mount(eimg, emnt, None)
    if err:
        result(False, 'erofs-utils headerball image mounts', os.strerror(err))
        return
    try:
        # (its root, which the tar does not list, is 0777 there)
        check_mounted('--tar=headerball reads as erofs-utils\' does: sizes, '
                      'zeroes, metadata', img, mnt, None, emnt,
                      ['--ignore-root-meta'])
    finally:
        umount(emnt)


def check_refusals(w, src):
    img = os.path.join(w, 'bad.img')
    blob = os.path.join(w, 'bad.blob')
    cases = [
        ('--blobdev without --chunksize', ['--blobdev=' + blob],
         'must be used together with --chunksize'),
        ('--chunksize not a power of two', ['--chunksize=5000'],
         'invalid --chunksize'),
        ('--chunksize below the block size', ['--chunksize=2048'],
         'must be larger than block size'),
        ('--blobdev with -Eforce-inode-blockmap',
         ['--chunksize=4096', '--blobdev=' + blob, '-Eforce-inode-blockmap'],
         'cannot work with block map'),
        ('--tar=i with --blobdev', ['--tar=i', '--chunksize=4096',
                                    '--blobdev=' + blob], 'keeps file data'),
    ]
    for name, args, want in cases:
        p = mkfs(args + [img, src])
        result(p.returncode != 0 and want in p.stderr and
               not os.path.exists(img) and not os.path.exists(blob),
               'refused: ' + name, '%d: %s' % (p.returncode, first_line(p)))
    # a failed build leaves the old image and blob as they were
    good, gblob = os.path.join(w, 'g.img'), os.path.join(w, 'g.blob')
    p = mkfs(['--chunksize=4096', '--blobdev=' + gblob, good, src])
    if p.returncode:
        result(False, 'a failed --blobdev build: first build', first_line(p))
        return
    before = (open(good, 'rb').read(), open(gblob, 'rb').read())
    p = mkfs(['--chunksize=4096', '--blobdev=' + gblob, good,
              '/nonexistent-source-dir'])
    after = (open(good, 'rb').read(), open(gblob, 'rb').read())
    result(p.returncode != 0 and before == after,
           'a failed --blobdev build leaves image and blob as they were',
           first_line(p))
    leftovers = [n for n in os.listdir(w) if n.startswith('.')]
    result(not leftovers, 'a failed build leaves no temporary behind',
           repr(leftovers))


def main():
    w = tempfile.mkdtemp(prefix='erofs-multidev.')
    try:
        src = os.path.join(w, 'src')
        make_tree(src)
        kwhy = kernel_why()
        eu_bin()
        check_chunksize(w, src, kwhy)
        check_blobdev(w, src, kwhy)
        check_tar_index(w, kwhy)
        check_sort_none(w, kwhy)
        check_headerball(w, kwhy)
        check_refusals(w, src)
    finally:
        for m in ('mnt', 'fmnt'):
            umount(os.path.join(w, m))
        shutil.rmtree(w, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
