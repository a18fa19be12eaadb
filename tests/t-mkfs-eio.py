#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mkfs.erofs on an output that fails with EIO: the error is reported with
the path, the exit status is non-zero, and nothing is left at the
destination (an image that was there stays as it was), for directory and
tar sources, compressed or not, into a file or onto a block device. And a
build onto a block device that fails half way leaves no valid superblock
over the half-written data.

The failing device is a loop device over a memfd: once the memfd is
sealed against writes, every write the loop driver passes on fails, and
the block layer reports EIO to the filesystem on top and to fsync. This
needs no device mapper (the machine's kernel has none) and no module.
Needs root and a free loop device; SKIP otherwise."""
import fcntl
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import MKFS, exit_status, result  # noqa: E402


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True)


class Device:
    """A loop device over a memfd that can be made to fail writes."""

    def __init__(self, size):
        self.fd = os.memfd_create('erofs-eio', os.MFD_ALLOW_SEALING)
        os.ftruncate(self.fd, size)
        self.dev = sh('losetup', '-f', '--show', '/proc/%d/fd/%d' %
                      (os.getpid(), self.fd)).stdout.strip()

    def fail_writes(self):
        fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE)

    def close(self):
        subprocess.run(['losetup', '-d', self.dev], capture_output=True)
        os.close(self.fd)


def unavailable():
    if os.geteuid():
        return 'needs root for loop devices and mounts'
    if not hasattr(os, 'memfd_create') or not hasattr(fcntl, 'F_SEAL_WRITE'):
        return 'this Python has no memfd sealing'
    try:
        sh('losetup', '-f')
    except (OSError, subprocess.CalledProcessError):
        return 'no free loop device'
    for tool in ('mkfs.ext2', 'mount', 'umount'):
        if subprocess.run(['sh', '-c', 'command -v ' + tool],
                          capture_output=True).returncode:
            return tool + ' is missing'
    return None


def make_source(d):
    os.makedirs(os.path.join(d, 'sub'))
    with open(os.path.join(d, 'random'), 'wb') as f:
        f.write(os.urandom(6 << 20))
    with open(os.path.join(d, 'sub/text'), 'wb') as f:
        f.write(b''.join(b'line %d\n' % i for i in range(200000)))


def make_tar(src, path):
    with tarfile.open(path, 'w') as t:
        t.add(src, arcname='.')


def mkfs(*args):
    p = subprocess.run([MKFS, '--quiet'] + list(args), capture_output=True,
                       timeout=300)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def on_failing_fs(work, name, args, old=None):
    """Build onto an ext2 whose device fails every write once mounted (and
    the old image, if any, was written)."""
    dev = Device(64 << 20)
    mnt = os.path.join(work, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    try:
        sh('mkfs.ext2', '-q', dev.dev)
        sh('mount', dev.dev, mnt)
        img = os.path.join(mnt, 'img')
        if old:
            with open(img, 'wb') as f:
                f.write(old)
            os.sync()
        dev.fail_writes()
        rc, out = mkfs(*(list(args[:-1]) + [img, args[-1]]))
        left = sorted(n for n in os.listdir(mnt) if n != 'lost+found')
        why = []
        if rc == 0:
            why.append('mkfs succeeded')
        elif rc >= 128 or rc < 0:
            why.append('mkfs died (%d)' % rc)
        elif 'Input/output error' not in out or img not in out:
            why.append('message without the path and EIO: ' + out.strip())
        if old is None and left:
            why.append('left behind: %s' % left)
        if old is not None:
            with open(img, 'rb') as f:
                if f.read() != old:
                    why.append('the old image changed')
            if left != ['img']:
                why.append('left behind: %s' % left)
        result(not why, name, '; '.join(why))
    finally:
        subprocess.run(['umount', mnt], capture_output=True)
        dev.close()


def onto_failing_device(name, args):
    dev = Device(64 << 20)
    try:
        dev.fail_writes()
        rc, out = mkfs(*(list(args[:-1]) + [dev.dev, args[-1]]))
        why = []
        if rc == 0:
            why.append('mkfs succeeded')
        elif rc >= 128 or rc < 0:
            why.append('mkfs died (%d)' % rc)
        elif 'Input/output error' not in out or dev.dev not in out:
            why.append('message without the device and EIO: ' + out.strip())
        result(not why, name, '; '.join(why))
    finally:
        dev.close()


def half_written_device(work, src, old):
    """A build that fails half way (a source file changes size while it is
    read) leaves the device without the old image's superblock."""
    name = 'a failed build leaves no valid superblock on a block device'
    dev = Device(96 << 20)
    moving = os.path.join(work, 'moving-src')
    os.makedirs(moving, exist_ok=True)
    path = os.path.join(moving, 'moving')
    with open(path, 'wb') as f:
        f.write(b'z' * (64 << 20))
    stop = threading.Event()

    def writer():
        size = 64 << 20
        i = 0
        while not stop.is_set():
            i += 1
            os.truncate(path, size - 4096 * (i % 1000))
            time.sleep(0.0005)
    t = threading.Thread(target=writer)
    try:
        with open(dev.dev, 'r+b') as f:
            f.write(old)
        t.start()
        rc, out = mkfs('--workers=1', dev.dev, moving)
        stop.set()
        t.join()
        with open(dev.dev, 'rb') as f:
            f.seek(1024)
            magic = struct.unpack('<I', f.read(4))[0]
        why = []
        if rc == 0:
            why.append('mkfs succeeded (the file did not change in time)')
        elif rc >= 128 or rc < 0:
            why.append('mkfs died (%d)' % rc)
        elif magic == 0xE0F5E1E2:
            why.append('an EROFS superblock is left over the new data')
        result(not why, name, '; '.join(why) + ' | ' + out.strip()[:200])
    finally:
        stop.set()
        if t.is_alive():
            t.join()
        dev.close()


def main():
    why = unavailable()
    if why:
        print('SKIP: EIO on the output: ' + why)
        return 0
    work = tempfile.mkdtemp(prefix='erofs-eio.')
    try:
        src = os.path.join(work, 'src')
        make_source(src)
        tarball = os.path.join(work, 'src.tar')
        make_tar(src, tarball)
        old_img = os.path.join(work, 'old.img')
        rc, out = mkfs('-T1', old_img, src)
        if rc:
            result(False, 'build the old image', out)
            return 1
        with open(old_img, 'rb') as f:
            old = f.read()

        on_failing_fs(work, 'EIO on a file: reported, no image left',
                      [src])
        on_failing_fs(work, 'EIO on a file, compressed: reported, no image '
                      'left', ['-zlz4hc', '-Efragments', src])
        on_failing_fs(work, 'EIO on a file, tar input: reported, no image '
                      'left', ['--tar=f', tarball])
        on_failing_fs(work, 'EIO on a file: the existing image survives',
                      [src], old=old)
        onto_failing_device('EIO on a block device: reported', [src])
        half_written_device(work, src, old)
    finally:
        subprocess.run(['rm', '-rf', work])
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
