#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Messages and exit codes for bad input:

- a message longer than 1024 bytes keeps its reason (a long destination
  path, a tar entry 3000 bytes long);
- a tar header whose checksum is wrong says so, with where, for the first
  header, a later one, one after a PAX header and one in a gzip stream
  (it said "entry without a usable path"; erofs-utils says "chksum
  mismatch");
- fsck --nid=N for an N past the end of the image is a usage error (16);
- dump --share-report --json over a damaged image exits non-zero and its
  JSON says what the figures left out ("left_out");
- POSIX ACLs in archives: a raw value that is not the kernel's ACL blob,
  and a text ACL that does not parse, are errors naming the entry and its
  header's offset, with no image left; a good one builds an image our
  fsck and erofs-utils' find clean and the kernel reads the ACL of.
"""
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, Image, exit_status,  # noqa: E402
                       nid_of, result)

TOP_SRCDIR = os.environ.get('TOP_SRCDIR',
                            os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__))))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def erofs_utils():
    """erofs-utils 1.9.4's bin directory, or None."""
    p = subprocess.run(['bash', os.path.join(TOP_SRCDIR, 'tests/oracle/'
                                             'erofs-utils-new.sh')],
                       capture_output=True)
    d = p.stdout.decode().strip()
    return d if p.returncode == 0 and d else None


def tar_bytes(entries):
    """A PAX tar of (name, data, pax headers) regular files."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data, pax in entries:
            i = tarfile.TarInfo(name)
            i.size = len(data)
            i.mtime = 1700000000
            i.pax_headers = pax
            t.addfile(i, io.BytesIO(data))
    return bytearray(b.getvalue())


def headers(data):
    """Offsets of the tar headers in "data" (PAX ones included)."""
    pos, out = 0, []
    while pos + 512 <= len(data) and any(data[pos:pos + 512]):
        out.append(pos)
        size = int(data[pos + 124:pos + 136].strip(b'\0 ') or b'0', 8)
        pos += 512 + (size + 511) // 512 * 512
    return out


def break_checksum(data, at):
    d = bytearray(data)
    d[at + 148:at + 156] = b'0000000\0'
    return d


def mkfs_tar(work, name, data, want_ok):
    tar = os.path.join(work, name)
    with open(tar, 'wb') as f:
        f.write(data)
    img = os.path.join(work, name + '.img')
    rc, out = run([MKFS, '--quiet', '--tar=f', img, tar])
    return rc, out, img


def long_messages(work):
    deep = os.path.join(work, *(['x' * 200] * 6), 'missing', 'img')
    src = os.path.join(work, 'src1')
    os.makedirs(src, exist_ok=True)
    rc, out = run([MKFS, '--quiet', deep, src])
    result(rc != 0 and out.rstrip().endswith('No such file or directory')
           and deep in out,
           'a %d-byte message keeps its reason (destination)' % len(out),
           'exit %d: ...%s' % (rc, out[-120:]))
    name = 'd/' * 1500 + 'x'
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT) as t:
        i = tarfile.TarInfo(name)
        i.type = tarfile.LNKTYPE
        i.linkname = 'missing'
        t.addfile(i)
    rc, out, img = mkfs_tar(work, 'longlink.tar', b.getvalue(), False)
    result(rc != 0 and 'not found' in out[-100:] and name in out,
           'a %d-byte message keeps its reason (tar entry)' % len(out),
           'exit %d: ...%s' % (rc, out[-120:]))


def checksums(work):
    good = tar_bytes([('a', b'first\n', {}), ('b' * 150, b'second\n', {}),
                      ('c', b'third\n', {})])
    hs = headers(good)
    # 0: a; 1: PAX header of b; 2: b; 3: c
    cases = [('the first header', hs[0]), ('a later header', hs[3]),
             ('a header after its PAX header', hs[2]),
             ('a PAX header', hs[1])]
    for what, at in cases:
        bad = break_checksum(good, at)
        for gz in (False, True):
            data = gzip.compress(bytes(bad)) if gz else bad
            rc, out, img = mkfs_tar(work, 'cks.tar' + ('.gz' if gz else ''),
                                    data, False)
            want = 'bad header checksum at byte %d' % at
            name = 'bad checksum in %s%s' % (what, ', gzip' if gz else '')
            result(rc != 0 and want in out and 'usable path' not in out and
                   not os.path.exists(img), name,
                   'exit %d: %s' % (rc, out.strip()[-200:]))


def nids(work):
    src = os.path.join(work, 'src2')
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, 'f'), 'w') as f:
        f.write('x\n')
    img = os.path.join(work, 'nid.img')
    run([MKFS, '--quiet', img, src])
    size = os.path.getsize(img)
    for n in (size // 32, 1 << 40, (1 << 64) - 1):
        rc, out = run([FSCK, '--nid=%d' % n, img])
        result(rc == 16 and 'no such inode' in out,
               'fsck --nid=%d past the end of a %d-byte image: usage (16)' %
               (n, size), 'exit %d: %s' % (rc, out.strip()[-200:]))
    n = nid_of(DUMP, img, '/f')
    rc, out = run([FSCK, '--nid=%d' % n, img])
    result(rc == 0, 'fsck --nid of a file in the image: clean',
           'exit %d: %s' % (rc, out.strip()[-200:]))


def share_json(work):
    src = os.path.join(work, 'src3')
    os.makedirs(src, exist_ok=True)
    for i in range(3):
        with open(os.path.join(src, 'f%d' % i), 'w') as f:
            f.write('file %d\n' % i)
    try:
        os.setxattr(os.path.join(src, 'f1'), 'user.x', b'1')
    except OSError:
        pass
    good = os.path.join(work, 'good.img')
    run([MKFS, '--quiet', '--ishare', good, src])
    rc, out = run([DUMP, '--share-report', '--json', good, good])
    try:
        j = json.loads(out[out.index('{'):])
        ok = rc == 0 and j['left_out']['complete'] is True
    except (ValueError, KeyError):
        ok = False
    result(ok, 'share report --json over clean images: exit 0, complete',
           'exit %d: %s' % (rc, out[-200:]))
    im = Image(good)
    n = nid_of(DUMP, good, '/f1')
    struct.pack_into('<H', im.b, im.iloc(n) + 2, 0xffff)  # xattr icount
    bad = os.path.join(work, 'damaged.img')
    im.save(bad)
    for js in (True, False):
        cmd = [DUMP, '--share-report'] + (['--json'] if js else []) + \
            [good, bad]
        rc, out = run(cmd)
        why = None
        if rc == 0:
            why = 'exit 0'
        elif js:
            try:
                lo = json.loads(out[out.index('{'):out.rindex('}') + 1])[
                    'left_out']
                if lo['complete'] is not False or lo['damaged_parts'] < 1 \
                        or lo['per_image'][1]['damaged_parts'] < 1:
                    why = 'left_out: %s' % lo
            except (ValueError, KeyError) as e:
                why = 'no left_out in the JSON: %s' % e
        elif 'Left out of these figures' not in out:
            why = 'the report does not say what it left out'
        result(why is None, 'share report%s over a damaged image: non-zero '
               'exit, says what it left out' % (' --json' if js else ''),
               '%s: %s' % (why, out.strip()[-300:]))


def acls(work, eu):
    cases = [
        ('raw ACL that is not the kernel blob',
         {'SCHILY.xattr.system.posix_acl_access': '\x02\x00\x00\x00garbage'},
         'not a POSIX ACL'),
        ('raw default ACL with an unknown tag',
         {'SCHILY.xattr.system.posix_acl_default':
          '\x02\x00\x00\x00\x40\x00\x07\x00\xff\xff\xff\xff'},
         'not a POSIX ACL'),
        ('text ACL that does not parse',
         {'SCHILY.acl.access': 'user::rw-,group::bogus,other::r--'},
         'ACL does not parse'),
    ]
    for what, pax, want in cases:
        data = tar_bytes([('ok', b'fine\n', {}), ('f', b'abc', pax)])
        rc, out, img = mkfs_tar(work, 'acl.tar', data, False)
        at = headers(data)[1]
        result(rc != 0 and want in out and "entry 'f'" in out and
               'header at byte %d' % at in out and not os.path.exists(img),
               'tar with a %s: an error naming the entry and offset' % what,
               'exit %d: %s' % (rc, out.strip()[-200:]))
    text = 'user::rw-,user:1234:r--,group::r--,mask::r--,other::r--'
    data = tar_bytes([('f', b'abc', {'SCHILY.acl.access': text})])
    rc, out, img = mkfs_tar(work, 'goodacl.tar', data, True)
    if rc:
        result(False, 'tar with a good ACL builds', out.strip()[-200:])
        return
    rc, out = run([FSCK, img])
    result(rc == 0, 'tar with a good ACL: our fsck finds it clean',
           out.strip()[-200:])
    if eu:
        rc, out = run([os.path.join(eu, 'fsck.erofs'), img])
        result(rc == 0, "tar with a good ACL: erofs-utils' fsck finds it "
               'clean', out.strip()[-200:])
    if os.geteuid() != 0:
        print('SKIP: kernel reads the ACL: not root')
        return
    mnt = os.path.join(work, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    if run(['mount', '-t', 'erofs', '-o', 'loop,ro', img, mnt])[0]:
        print('SKIP: kernel reads the ACL: no loop mount')
        return
    try:
        v = os.getxattr(os.path.join(mnt, 'f'), 'system.posix_acl_access')
        ents = [struct.unpack_from('<HHI', v, 4 + 8 * i)
                for i in range((len(v) - 4) // 8)]
        want = [(1, 6, 0xffffffff), (2, 4, 1234), (4, 4, 0xffffffff),
                (0x10, 4, 0xffffffff), (0x20, 4, 0xffffffff)]
        result(ents == want, 'tar with a good ACL: the kernel reads it',
               '%s' % ents)
    finally:
        run(['umount', mnt])


def main():
    for tool in (MKFS, FSCK, DUMP):
        if not os.access(tool, os.X_OK):
            print('SKIP: messages: %s is not built' % tool)
            return 0
    eu = erofs_utils()
    if not eu:
        print("SKIP: erofs-utils' fsck as a judge: not available")
    with tempfile.TemporaryDirectory(prefix='erofs-msg.') as work:
        long_messages(work)
        checksums(work)
        nids(work)
        share_json(work)
        acls(work, eu)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
