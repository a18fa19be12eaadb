#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Layered images from our mkfs.erofs: merging layer images (rebuild mode)
and appending layers (--incremental), judged against overlayfs stacking
the same layers, by the kernel and by erofs-utils 1.9.4:

- three OCI-style layers (modify, whiteout, opaque directory, new files, a
  duplicate across layers, hard links) built with containerd's options;
- mkfs OUT L1 L2 L3: one device per layer in argument order, tagged by the
  layer's UUID, the merged view with device= per layer (loop devices and
  file-backed), --ovlfs-strip=1 giving overlayfs' view, --clean=data a
  self-contained image, --clean=rvsp zeroes, --ishare fingerprints
  verified by erofs-utils, a layer whose data does not match its
  fingerprint refused, tail-packed and compressed layers refused by name,
  --vmdk-desc;
- --incremental: L2 and L3 appended to L1's image, each a copy renamed
  into place (a failed append leaves the image as it was);
- layers built with --tar=i, merged: their data stays in the tars.
"""
import io
import os
import shutil
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import MKFS, FSCK, SB, Image, result, exit_status  # noqa
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    'mdm', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        't-multidev-mkfs.py'))
mdm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mdm)
run, first_line, skip, devices = mdm.run, mdm.first_line, mdm.skip, \
    mdm.devices
sys_mount, umount, Loops, compare = mdm.sys_mount, mdm.umount, mdm.Loops, \
    mdm.compare

UUIDS = ['11111111-1111-1111-1111-111111111111',
         '22222222-2222-2222-2222-222222222222',
         '33333333-3333-3333-3333-333333333333']
FP = 'trusted.erofs.fingerprint'


def add(t, name, kind, data=b'', mode=None, link=''):
    ti = tarfile.TarInfo(name)
    ti.mtime = 1700000000
    ti.type = kind
    ti.mode = mode if mode is not None else \
        (0o755 if kind == tarfile.DIRTYPE else 0o644)
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
    ti.linkname = link
    t.addfile(ti, io.BytesIO(data) if data else None)


def make_layers(w):
    R = os.urandom
    big, shared = R(300000), R(70000)
    specs = [
        [('etc', tarfile.DIRTYPE), ('etc/a', tarfile.REGTYPE, R(5000)),
         ('etc/b', tarfile.REGTYPE, b'lower b'),
         ('gone', tarfile.DIRTYPE), ('gone/x', tarfile.REGTYPE, R(100)),
         ('opq', tarfile.DIRTYPE), ('opq/old', tarfile.REGTYPE, b'old'),
         ('keep', tarfile.DIRTYPE), ('keep/sub', tarfile.DIRTYPE),
         ('keep/sub/deep', tarfile.REGTYPE, R(12288)),
         ('keep/big', tarfile.REGTYPE, big),
         ('keep/hard', tarfile.LNKTYPE, b'', None, 'keep/big'),
         ('shared', tarfile.REGTYPE, shared)],
        [('etc', tarfile.DIRTYPE), ('etc/b', tarfile.REGTYPE, b'upper b'),
         ('etc/.wh.a', tarfile.REGTYPE), ('.wh.gone', tarfile.REGTYPE),
         ('opq', tarfile.DIRTYPE), ('opq/.wh..wh..opq', tarfile.REGTYPE),
         ('opq/new', tarfile.REGTYPE, b'new'),
         ('mid', tarfile.REGTYPE, R(9000)),
         ('shared-again', tarfile.REGTYPE, shared)],
        [('etc', tarfile.DIRTYPE), ('etc/c', tarfile.REGTYPE, R(4096)),
         ('.wh.mid', tarfile.REGTYPE), ('gone', tarfile.DIRTYPE),
         ('gone/back', tarfile.REGTYPE, b'a new gone'),
         ('keep', tarfile.DIRTYPE), ('keep/top', tarfile.REGTYPE, R(100))],
    ]
    tars = []
    for i, spec in enumerate(specs):
        p = os.path.join(w, 'l%d.tar' % (i + 1))
        with tarfile.open(p, 'w', format=tarfile.PAX_FORMAT) as t:
            for e in spec:
                add(t, e[0], e[1], *(e[2:] if len(e) > 2 else ()))
        tars.append(p)
    return tars


def mkfs(args, stdin=None):
    return run([MKFS, '--quiet', '-T', '1700000000'] + args, stdin=stdin)


def build_layers(w, tars, extra=()):
    imgs = []
    for i, t in enumerate(tars):
        img = os.path.join(w, 'l%d%s.erofs' % (i + 1, ''.join(extra)
                                                .replace('-', '')
                                                .replace('=', '')))
        with open(t, 'rb') as f:
            p = mkfs(['--tar=f', '--aufs', '-Enoinline_data', '-b4096',
                      '-U', UUIDS[i]] + list(extra) + [img], stdin=f)
        if p.returncode:
            result(False, 'layer %d: containerd\'s mkfs' % (i + 1),
                   first_line(p))
            return None
        imgs.append(img)
    return imgs


def overlay_view(w, imgs):
    """Mount each layer and stack them with overlayfs; returns the
    mount point (and the mounts to undo), or None with a skip."""
    mnts = []
    for i, img in enumerate(imgs):
        m = os.path.join(w, 'ovl-l%d' % i)
        os.makedirs(m, exist_ok=True)
        err = sys_mount(img, m, None)
        if err:
            result(False, 'overlay: mount layer %d' % i, os.strerror(err))
            return None, mnts
        mnts.append(m)
    view = os.path.join(w, 'ovl')
    os.makedirs(view, exist_ok=True)
    lower = ':'.join(reversed(mnts))
    p = run(['mount', '-t', 'overlay', 'overlay', '-o',
             'ro,lowerdir=' + lower, view])
    if p.returncode:
        skip('overlayfs view', first_line(p))
        return None, mnts
    mnts.append(view)
    return view, mnts


def undo(mnts):
    for m in reversed(mnts):
        umount(m)


VIEW_OPTS = ['--ignore-root-meta', '--ignore-xattr', 'trusted.overlay.*',
             '--ignore-xattr', FP]


def check_merge(w, imgs, view, kwhy):
    mnt = os.path.join(w, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    out = os.path.join(w, 'merged.erofs')
    vmdk = os.path.join(w, 'merged.vmdk')
    p = mkfs(['--ovlfs-strip=1', '--ishare', '--vmdk-desc=' + vmdk, out] +
             imgs)
    if p.returncode:
        result(False, 'merge: build', first_line(p))
        return
    im = Image(out)
    n, slotoff, slots = devices(im)
    want, uniaddr = [], im.blocks
    for i, img in enumerate(imgs):
        li = Image(img)
        want.append((UUIDS[i].replace('-', '').encode(), li.blocks, uniaddr))
        uniaddr += li.blocks
    result(n == len(imgs) and slots == want,
           'merge: one device per layer, in argument order, tagged by UUID',
           '%r != %r' % (slots, want))
    with open(vmdk) as f:
        desc = f.read()
    lines = [l for l in desc.splitlines() if l.startswith('RW ')]
    sizes = [os.path.getsize(out)] + [b * 4096 for t, b, u in want]
    result(len(lines) == len(imgs) + 1 and
           [int(l.split()[1]) * 512 for l in lines] == sizes and
           lines[0].split('"')[1] == out,
           '--vmdk-desc: the image, then each layer', desc)
    p = run([FSCK, out] + ['--device=' + i for i in imgs])
    result(p.returncode == 0, 'merge: our fsck with the layers as devices',
           first_line(p))
    if mdm.eu_bin():
        p = run([os.path.join(mdm.EU, 'fsck.erofs'), '--xattr-inode-digest']
                + ['--device=' + i for i in imgs] + [out])
        result(p.returncode == 0 and 'skipped' not in p.stdout + p.stderr,
               'merge --ishare: erofs-utils verifies every fingerprint',
               first_line(p))
    else:
        skip('merge: erofs-utils', mdm.EU_WHY)
    if kwhy:
        skip('merge: kernel mounts', kwhy)
        return
    if view:
        check = mdm.check_mounted
        check('merge --ovlfs-strip=1, file-backed: overlayfs\' view', out,
              mnt, ','.join('device=' + i for i in imgs), view, VIEW_OPTS)
        loops = Loops()
        try:
            data = ','.join('device=' + loops.attach(i) for i in imgs)
            check('merge --ovlfs-strip=1, loop devices: overlayfs\' view',
                  loops.attach(out), mnt, data, view, VIEW_OPTS)
        finally:
            loops.detach_all()
        # data copied: one image, no devices
        full = os.path.join(w, 'full.erofs')
        p = mkfs(['--ovlfs-strip=1', '--clean=data', full] + imgs)
        if p.returncode:
            result(False, 'merge --clean=data: build', first_line(p))
        else:
            result(not devices(Image(full))[0],
                   'merge --clean=data: no devices', '')
            check('merge --clean=data: overlayfs\' view, self-contained',
                  full, mnt, None, view, VIEW_OPTS)
    # reserved: the right sizes, zeroes inside
    rv = os.path.join(w, 'rvsp.erofs')
    p = mkfs(['--ovlfs-strip=1', '--clean=rvsp', rv] + imgs)
    if p.returncode:
        result(False, 'merge --clean=rvsp: build', first_line(p))
        return
    err = sys_mount(rv, mnt, None)
    if err:
        result(False, 'merge --clean=rvsp: mount', os.strerror(err))
        return
    try:
        with open(os.path.join(mnt, 'keep/big'), 'rb') as f:
            data = f.read()
        result(len(data) == 300000 and not data.strip(b'\0'),
               'merge --clean=rvsp: space reserved, reading zeroes',
               '%d bytes' % len(data))
    finally:
        umount(mnt)


def check_merge_refusals(w, tars, imgs):
    # tail-packed and compressed layers: named, with the way out
    for name, extra, want in (('tail-packed', [], 'tail-packed'),
                              ('compressed', ['-zlz4'], 'compressed')):
        bad = os.path.join(w, 'bad-%s.erofs' % name)
        with open(tars[0], 'rb') as f:
            p = mkfs(['--tar=f', '--aufs'] + extra + [bad], stdin=f)
        if p.returncode:
            result(False, 'a %s layer: build' % name, first_line(p))
            continue
        out = os.path.join(w, 'refused.erofs')
        p = mkfs([out, bad] + imgs[1:])
        result(p.returncode != 0 and want in p.stderr and bad in p.stderr
               and '--clean=data' in p.stderr and not os.path.exists(out),
               'merge refuses a %s layer, naming it' % name, first_line(p))
        p = mkfs(['--clean=data', out, bad] + imgs[1:])
        result(p.returncode == 0, 'merge --clean=data takes a %s layer'
               % name, first_line(p))
        if os.path.exists(out):
            os.unlink(out)
    # a layer whose data does not match its fingerprint
    fl = os.path.join(w, 'fp.erofs')
    with open(tars[0], 'rb') as f:
        p = mkfs(['--tar=f', '--aufs', '-Enoinline_data', '--ishare', fl],
                 stdin=f)
    if p.returncode:
        result(False, 'fingerprinted layer: build', first_line(p))
        return
    forged = os.path.join(w, 'forged.erofs')
    # two files of layer 1 that no upper layer hides
    a, b = os.path.join(w, 'content-a'), os.path.join(w, 'content-b')
    with tarfile.open(tars[0]) as t:
        for path, name in ((a, 'keep/sub/deep'), (b, 'shared')):
            with open(path, 'wb') as f:
                f.write(t.extractfile(name).read())
    p = run([sys.executable, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), 'fsck_util.py'), 'forge-fingerprint',
        fl, forged, a, b])
    if p.returncode:
        result(False, 'forge a fingerprint', first_line(p))
        return
    out = os.path.join(w, 'refused.erofs')
    p = mkfs(['--ishare', out, forged] + imgs[1:])
    result(p.returncode != 0 and 'does not match' in p.stderr and
           forged in p.stderr and not os.path.exists(out),
           'merge --ishare refuses data that does not match its layer\'s '
           'fingerprint', first_line(p))


def check_incremental(w, tars, view, kwhy):
    img = os.path.join(w, 'inc.erofs')
    with open(tars[0], 'rb') as f:
        p = mkfs(['--tar=f', '--aufs', '--ovlfs-strip=1', '--ishare',
                  '-U', UUIDS[0], img], stdin=f)
    for t in tars[1:]:
        if p.returncode:
            break
        with open(t, 'rb') as f:
            p = mkfs(['--tar=f', '--aufs', '--ovlfs-strip=1',
                      '--incremental=data', img], stdin=f)
    if p.returncode:
        result(False, '--incremental: build', first_line(p))
        return
    im = Image(img)
    result(bytes(im.b[SB + 0x30:SB + 0x40]).hex() ==
           UUIDS[0].replace('-', ''), '--incremental keeps the UUID',
           bytes(im.b[SB + 0x30:SB + 0x40]).hex())
    p = run([FSCK, img])
    result(p.returncode == 0, '--incremental: our fsck', first_line(p))
    if mdm.eu_bin():
        p = run([os.path.join(mdm.EU, 'fsck.erofs'), '--xattr-inode-digest',
                 img])
        result(p.returncode == 0 and 'skipped' not in p.stdout + p.stderr,
               '--incremental: erofs-utils checks it and every fingerprint',
               first_line(p))
    if kwhy:
        skip('--incremental: kernel mount', kwhy)
    elif view:
        mnt = os.path.join(w, 'mnt')
        mdm.check_mounted('--incremental --ovlfs-strip=1: overlayfs\' view',
                          img, mnt, None, view, VIEW_OPTS)
    # a failed append leaves the image as it was, and nothing beside it
    before = open(img, 'rb').read()
    bad = os.path.join(w, 'garbage.tar')
    with open(bad, 'wb') as f:
        f.write(b'this is no tar' * 100)
    p = mkfs(['--tar=f', '--incremental=data', img, bad])
    left = [n for n in os.listdir(w) if n.startswith('.')]
    result(p.returncode != 0 and open(img, 'rb').read() == before and
           not left, 'a failed --incremental leaves the image as it was',
           '%s; left %r' % (first_line(p), left))
    p = mkfs(['--tar=i', '--incremental=data', img, tars[1]])
    result(p.returncode != 0 and open(img, 'rb').read() == before,
           '--tar=i --incremental is refused', first_line(p))


def check_tar_index_merge(w, tars, view, kwhy):
    """Layers as containerd's tar index layers ([index][tar] files)."""
    layers = []
    for i, t in enumerate(tars):
        img = os.path.join(w, 'ti%d.erofs' % (i + 1))
        with open(t, 'rb') as f:
            p = mkfs(['--tar=i', '--aufs', '-U', UUIDS[i], img], stdin=f)
        if p.returncode:
            result(False, 'tar index layer %d' % (i + 1), first_line(p))
            return
        with open(img, 'ab') as f, open(t, 'rb') as g:
            shutil.copyfileobj(g, f)
        layers.append(img)
    out = os.path.join(w, 'ti-merged.erofs')
    p = mkfs(['--ovlfs-strip=1', '--ishare', out] + layers)
    if p.returncode:
        result(False, 'merge of tar index layers: build', first_line(p))
        return
    p = run([FSCK, out] + ['--device=' + i for i in layers])
    result(p.returncode == 0, 'merge of tar index layers: our fsck',
           first_line(p))
    if kwhy or not view:
        skip('merge of tar index layers: kernel', kwhy or 'no overlay view')
        return
    mdm.check_mounted('merge of tar index layers: overlayfs\' view, '
                      'device= per [index][tar] layer', out,
                      os.path.join(w, 'mnt'),
                      ','.join('device=' + i for i in layers), view,
                      VIEW_OPTS)


def main():
    import tempfile
    w = tempfile.mkdtemp(prefix='erofs-layers.')
    mnts = []
    try:
        kwhy = mdm.kernel_why()
        mdm.eu_bin()
        tars = make_layers(w)
        imgs = build_layers(w, tars)
        if not imgs:
            return exit_status()
        view = None
        if kwhy:
            skip('overlayfs view', kwhy)
        else:
            view, mnts = overlay_view(w, imgs)
        check_merge(w, imgs, view, kwhy)
        check_merge_refusals(w, tars, imgs)
        check_incremental(w, tars, view, kwhy)
        check_tar_index_merge(w, tars, view, kwhy)
    finally:
        umount(os.path.join(w, 'mnt'))
        undo(mnts)
        shutil.rmtree(w, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
