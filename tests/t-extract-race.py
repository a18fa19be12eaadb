#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Extraction raced by another user: root extracts an image of 3000 FIFOs
(mode 4777, xattrs) into a directory a second user (nobody) can write,
while that user (tests/racer, inotify) renames each FIFO away as soon as
it appears and puts a symlink to a root-owned 0600 file outside the
directory in its place. Whatever extraction says of those entries, the
outside file must keep its mode, owner, times, xattrs and content.
fsck.erofs before the fix set the file's mode to 4777 in every run (it
chmod()ed by name, following the symlink)."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import FSCK, MKFS, exit_status, result  # noqa: E402

FIFOS = 3000
RUNS = 3
RACER = os.path.join(os.environ.get('TOP_BUILDDIR', '.'), 'tests/racer')


def state(path):
    st = os.lstat(path)
    try:
        xattrs = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        xattrs = []
    with open(path, 'rb') as f:
        data = f.read()
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, xattrs, data)


def main():
    if os.geteuid() != 0:
        print('SKIP: extraction race: needs root (and a second user)')
        return 0
    if not os.access(RACER, os.X_OK):
        print('SKIP: extraction race: %s is not built (make check builds '
              'it)' % RACER)
        return 0
    try:
        pw = pwd.getpwnam('nobody')
    except KeyError:
        print('SKIP: extraction race: no user "nobody"')
        return 0
    work = tempfile.mkdtemp(prefix='erofs-xrace.')
    os.chmod(work, 0o755)
    try:
        src = os.path.join(work, 'src')
        os.makedirs(src)
        for i in range(FIFOS):
            p = os.path.join(src, 'p%04d' % i)
            os.mkfifo(p)
            os.chmod(p, 0o4777)
            try:
                os.setxattr(p, 'trusted.race', b'%d' % i)
            except OSError:
                pass
        img = os.path.join(work, 'fifos.img')
        r = subprocess.run([MKFS, '--quiet', img, src], capture_output=True)
        if r.returncode:
            result(False, 'extraction race', 'mkfs: ' + r.stderr.decode())
            return exit_status()
        outside = os.path.join(work, 'outside')
        os.makedirs(outside)
        secret = os.path.join(outside, 'secret')
        with open(secret, 'wb') as f:
            f.write(b'root only\n')
        os.chmod(secret, 0o600)
        os.utime(secret, ns=(10 ** 18, 10 ** 18))
        before = state(secret)
        for run in range(RUNS):
            x = os.path.join(work, 'x%d' % run)
            os.makedirs(x)
            os.chown(x, pw.pw_uid, pw.pw_gid)
            racer = subprocess.Popen(
                [RACER, '-u', '%d:%d' % (pw.pw_uid, pw.pw_gid), 'symlinks',
                 x, secret, str(FIFOS)], stdout=subprocess.PIPE)
            try:
                if racer.stdout.readline() != b'go\n':
                    raise RuntimeError('racer did not start')
                r = subprocess.run([FSCK, '--extract=' + x, '--xattrs',
                                    '--preserve', img], capture_output=True,
                                   timeout=600)
            finally:
                racer.kill()
                racer.wait()
            won = sum(1 for n in os.listdir(x)
                      if not n.startswith('.racer.') and
                      os.path.islink(os.path.join(x, n)))
            after = state(secret)
            out = (r.stdout + r.stderr).decode('utf-8', 'replace')
            name = ('run %d: %d FIFOs, %d swapped for symlinks, the file '
                    'outside untouched' % (run + 1, FIFOS, won))
            if after != before:
                result(False, name, 'the file outside changed: mode %o uid '
                       '%d -> mode %o uid %d' % (before[0], before[1],
                                                  after[0], after[1]))
                # put it back for the next run
                os.chmod(secret, 0o600)
                os.chown(secret, 0, 0)
            elif 'Sanitizer' in out or r.returncode not in (0, 8):
                result(False, name, 'fsck exit %d: %s' %
                       (r.returncode, out.strip()[-300:]))
            elif not won:
                result(False, name, 'the racer never won: the test proves '
                       'nothing')
            else:
                result(True, name)
            shutil.rmtree(x)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
