#!/usr/bin/env bash
# containerd's command lines, run as containerd runs them, and the layers
# they make stacked as containerd stacks them:
#  - the EROFS differ: the layer tar on a pipe into
#    mkfs.erofs --tar=f --aufs --quiet -Enoinline_data -b4096 --sort=none
#    -U UUID LAYER.erofs (--sort=none from containerd's documented
#    configuration, its mkfs options going after -b4096);
#  - the snapshot commit: mkfs.erofs --quiet -Enoinline_data OUT UPPERDIR,
#    UPPERDIR being the upper directory of a container's overlayfs.
# Three layers with whiteouts, opaque directories, type changes, hard
# links, devices and xattrs, each mounted with this kernel and stacked by
# overlayfs (lowerdir=top:...:bottom), must read back as the layers applied
# in order with overlay semantics (a tree built here from the tars by a
# Python applier of its own); a commit of changes made in a container on
# top must read back, stacked, as the container saw them.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip containerd "$why"
	exit 0
fi
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
	skip containerd "no overlayfs in the kernel"
	exit 0
fi

W=$TEST_TMP
mkdir -p "$W/expected"
# layers.py: write layer1..3.tar and apply them to expected/
cat >"$W/layers.py" <<'EOF'
import io, os, stat, sys, tarfile

work = sys.argv[1]
T = 1650000000


def mk(layer):
    t = tarfile.open(os.path.join(work, 'layer%d.tar' % layer), 'w',
                     format=tarfile.PAX_FORMAT)

    def add(name, kind=tarfile.REGTYPE, data=b'', mode=0o644, uid=0, gid=0,
            mtime=None, link='', xattrs=None, dev=(0, 0)):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid = kind, mode, uid, gid
        ti.mtime = mtime if mtime is not None else T + layer * 1000
        ti.linkname = link
        ti.devmajor, ti.devminor = dev
        ti.size = len(data) if kind == tarfile.REGTYPE else 0
        pax = {}
        if isinstance(ti.mtime, float):
            pax['mtime'] = '%.9f' % ti.mtime
        for k, v in (xattrs or {}).items():
            pax['SCHILY.xattr.' + k] = v
        ti.pax_headers = pax
        t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return t, add


D, L, S, H = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
t, add = mk(1)
for d, m in (('./', 0o755), ('etc/', 0o755), ('usr/', 0o755),
             ('usr/bin/', 0o755), ('var/', 0o755), ('var/lib/', 0o755),
             ('var/lib/data/', 0o750), ('home/', 0o755), ('dev/', 0o755),
             ('opt/', 0o755)):
    add(d, D, mode=m)
add('home/user/', D, mode=0o700, uid=1000, gid=1000, mtime=T + 0.25)
add('home/user/.bashrc', data=b'alias ll=ls\n', uid=1000, gid=1000)
add('home/user/notes', data=b'n' * 5000, uid=1000, gid=1000,
    mtime=1234567890.123456789)
add('etc/passwd', data=b'root:x:0:0::/root:/bin/sh\n')
add('etc/shadow', data=b'root:*:1::::::\n', mode=0o640, gid=42)
add('usr/bin/tool', data=os.urandom(10000) * 1, mode=0o4755)
add('usr/bin/tool-link', H, link='usr/bin/tool')
add('usr/bin/sym', S, link='tool')
add('var/lib/data/a', data=b'a' * 4097)
add('var/lib/data/b', data=b'b' * 100, xattrs={'user.kind': 'b'})
add('var/lib/gone.txt', data=b'going\n')
add('var/lib/keep', data=b'kept\n', xattrs={'trusted.x': 'y'})
add('dev/null', tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
add('dev/fifo', tarfile.FIFOTYPE, mode=0o600)
t.close()

t, add = mk(2)
for d, m in (('./', 0o755), ('etc/', 0o755), ('usr/', 0o755),
             ('usr/bin/', 0o711), ('var/', 0o755), ('var/lib/', 0o755),
             ('home/', 0o755), ('home/user/', 0o700), ('opt/', 0o755),
             ('opt/app/', 0o755), ('opt/app/lib/', 0o755)):
    add(d, D, mode=m, uid=1000 if 'user' in d else 0,
        gid=1000 if 'user' in d else 0)
add('var/lib/.wh.gone.txt')                 # a lower file goes
add('var/lib/data/', D, mode=0o755)         # a lower directory emptied
add('var/lib/data/.wh..wh..opq')
add('var/lib/data/c', data=b'c' * 3)
add('etc/passwd', data=b'root:x:0:0::/root:/bin/bash\nu:x:1000:1000::/home/user:/bin/sh\n',
    mode=0o600)
add('usr/bin/sym', data=b'no longer a link\n')  # symlink -> regular file
add('home/user/.wh..bashrc')                # a dotfile goes
add('opt/app/run', data=b'#!/bin/sh\n', mode=0o755)
add('opt/app/lib/x.so', data=os.urandom(20000))
t.close()

t, add = mk(3)
for d in ('./', 'opt/', 'var/', 'var/lib/', 'var/lib/data/', 'etc/', 'home/',
          'etc/shadow/'):
    add(d, D, mode=0o755)
add('opt/.wh.app')                          # a whole lower directory goes
add('var/lib/data/c', data=b'changed c\n', mtime=T + 3000.5)
add('home/user', data=b'now a file\n', uid=1000)  # directory -> file
add('etc/shadow/inside', data=b'file -> directory\n')
add('etc/hosts', data=b'127.0.0.1 localhost\n')
add('etc/hosts.bak', H, link='etc/hosts')
t.close()

# ---- apply the layers in order, as overlayfs shows them ---------------
state = {}  # path -> (TarInfo, data, layer)


def under(p, d):
    return p == d or p.startswith(d + '/')


for layer in (1, 2, 3):
    tf = tarfile.open(os.path.join(work, 'layer%d.tar' % layer))
    members = tf.getmembers()
    before = dict(state)
    for m in members:  # whiteouts act on the lower layers only
        name = os.path.normpath(m.name)
        d, b = os.path.split(name)
        if b == '.wh..wh..opq':
            for p in list(before):
                if p.startswith(d + '/' if d else ''):
                    if p != d:
                        state.pop(p, None)
        elif b.startswith('.wh.'):
            gone = os.path.join(d, b[4:])
            for p in list(before):
                if under(p, gone):
                    state.pop(p, None)
    for m in members:
        name = os.path.normpath(m.name)
        if os.path.basename(name).startswith('.wh.'):
            continue
        if name == '.':
            name = ''
        old = state.get(name)
        if old and old[0].isdir() and not m.isdir():
            for p in list(state):  # a non-directory hides the lower tree
                if p.startswith(name + '/'):
                    state.pop(p)
        data = tf.extractfile(m).read() if m.isreg() else b''
        if m.islnk():
            # a link shares the node of its target in this layer
            state[name] = state[os.path.normpath(m.linkname)]
            continue
        state[name] = (m, data, layer)

root = os.path.join(work, 'expected')
links = {}
for p in sorted(state):
    m, data, layer = state[p]
    path = os.path.join(root, p) if p else root
    key = id(state[p])
    if p and key in links:
        os.link(links[key], path)
        continue
    links[key] = path
    if m.isdir():
        os.makedirs(path, exist_ok=True)
    elif m.isreg():
        with open(path, 'wb') as f:
            f.write(data)
    elif m.issym():
        os.symlink(m.linkname, path)
    elif m.ischr():
        os.mknod(path, stat.S_IFCHR | m.mode, os.makedev(m.devmajor, m.devminor))
    elif m.isfifo():
        os.mkfifo(path, m.mode)
    for k, v in m.pax_headers.items():
        if k.startswith('SCHILY.xattr.'):
            os.setxattr(path, k[13:], v.encode(), follow_symlinks=False)
    os.lchown(path, m.uid, m.gid)
    if not m.issym():
        os.chmod(path, m.mode)
# times last, deepest first: creating entries moves their directory's
for p in sorted(state, key=lambda p: -p.count('/') - (p != '')):
    m = state[p][0]
    path = os.path.join(root, p) if p else root
    ns = int(round(float(m.pax_headers.get('mtime', m.mtime)) * 1e9))
    os.utime(path, ns=(ns, ns), follow_symlinks=False)
EOF
if ! python3 "$W/layers.py" "$W" >"$W/layers.out" 2>&1; then
	fail "containerd: layer tars and the expected tree" "$(tail -n 3 "$W/layers.out")"
	exit 0
fi

UUIDS=(11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222
	33333333-3333-4333-8333-333333333333)
lowers=
for i in 1 2 3; do
	li=$W/layer$i.erofs
	# exactly containerd's differ: flags in its order, the tar on a pipe
	if cat "$W/layer$i.tar" | "$MKFS" --tar=f --aufs --quiet -Enoinline_data \
		-b4096 --sort=none -U "${UUIDS[$((i - 1))]}" "$li" \
		>"$W/mkfs$i.out" 2>&1; then
		pass "containerd differ: layer $i from a pipe"
	else
		fail "containerd differ: layer $i from a pipe" "$(head -n 2 "$W/mkfs$i.out")"
		exit 0
	fi
	[ ! -s "$W/mkfs$i.out" ] && pass "containerd differ: --quiet prints nothing (layer $i)" ||
		fail "containerd differ: --quiet prints nothing (layer $i)" "$(head -n 2 "$W/mkfs$i.out")"
	[ "$(blkid -p -o value -s UUID "$li")" = "${UUIDS[$((i - 1))]}" ] &&
		pass "containerd differ: layer $i has the UUID given" ||
		fail "containerd differ: layer $i has the UUID given" "$(blkid -p "$li")"
	# -Enoinline_data: no regular file has an inline tail
	if python3 "$TOP_SRCDIR/tests/inode_census.py" "$li" | python3 -c '
import json, stat, sys
d = json.load(sys.stdin)
bad = [i["path"] for i in d["inodes"] if stat.S_ISREG(i["mode"]) and i["layout"] == 2]
sys.exit("inline: %s" % bad if bad else 0)' 2>"$W/census.err"; then
		pass "containerd differ: layer $i has no inline file data"
	else
		fail "containerd differ: layer $i has no inline file data" "$(cat "$W/census.err")"
	fi
	eu_fsck "containerd differ: erofs-utils fsck accepts layer $i" "$li" --extract
	kmount "$li" "$W/l$i" || { fail "containerd: mount layer $i" "mount failed"; exit 0; }
	lowers="$W/l$i${lowers:+:$lowers}"
done

# stacked NAME LOWERS REF: overlayfs over LOWERS (top first, as containerd's
# snapshotter mounts them) reads back as REF (a tree or a snapshot)
merged=$W/merged
mkdir -p "$merged"
stacked() {
	local name=$1 out
	if ! mount -t overlay overlay -o "lowerdir=$2,xino=on" "$merged" \
		2>"$W/ovl.err"; then
		fail "$name" "overlayfs mount: $(cat "$W/ovl.err")"
		return
	fi
	_mounts+=("$merged")
	if out=$($COMPARE --ignore-dir-nlink "$3" "$merged" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
		echo "$out" | sed 's/^/    /'
	fi
	umount "$merged"
}
stacked "containerd: three layers stacked read back as the tars applied in order" \
	"$lowers" "$W/expected"

# ---- a container on top, and containerd's snapshot commit of it ---------
up=$W/snap/upper wk=$W/snap/work ctr=$W/ctr
mkdir -p "$up" "$wk" "$ctr"
if ! mount -t overlay overlay -o "lowerdir=$lowers,upperdir=$up,workdir=$wk,xino=on" \
	"$ctr" 2>"$W/ovl.err"; then
	fail "containerd commit: container overlay" "$(cat "$W/ovl.err")"
	exit 0
fi
_mounts+=("$ctr")
(
	set -e
	cd "$ctr"
	rm etc/passwd                          # a whiteout in the upper dir
	rm -r var/lib/data                     # then recreated: opaque
	mkdir var/lib/data
	echo fresh >var/lib/data/new
	echo appended >>var/lib/keep           # copy-up, its xattr kept
	mkdir -p srv/www && echo page >srv/www/index.html
	chmod 0700 srv
	setfattr -n user.mark -v yes srv/www/index.html
	ln -s ../srv/www opt/www
	touch -h -d @1700000000.5 opt/www srv/www/index.html
	mknod dev/zero c 1 5
) >"$W/ctr.out" 2>&1 || { fail "containerd commit: changes in the container" "$(cat "$W/ctr.out")"; exit 0; }
$COMPARE --save "$W/ctr.json" "$ctr" || { fail "containerd commit: scan the container" ""; exit 0; }
umount "$ctr"
# the upper directory holds what overlayfs wrote: whiteouts, opaque xattrs
[ "$(stat -c '%F %t:%T' "$up/etc/passwd" 2>/dev/null)" = "character special file 0:0" ] &&
	[ "$(getfattr --only-values -n trusted.overlay.opaque "$up/var/lib/data" 2>/dev/null)" = y ] &&
	pass "containerd commit: the upper directory holds a whiteout and an opaque directory" ||
	fail "containerd commit: the upper directory holds a whiteout and an opaque directory" \
		"$(ls -la "$up/etc" "$up/var/lib" 2>&1 | head -n 6)"

commit=$W/commit.erofs
# exactly containerd's commit
if "$MKFS" --quiet -Enoinline_data "$commit" "$up" >"$W/commit.out" 2>&1; then
	pass "containerd commit: mkfs.erofs --quiet -Enoinline_data OUT UPPERDIR"
else
	fail "containerd commit: mkfs.erofs --quiet -Enoinline_data OUT UPPERDIR" \
		"$(head -n 2 "$W/commit.out")"
	exit 0
fi
eu_fsck "containerd commit: erofs-utils fsck accepts it" "$commit" --extract
kmount "$commit" "$W/lc" || { fail "containerd commit: mount" "mount failed"; exit 0; }
stacked "containerd commit: stacked on the layers, the commit reads back as the container saw it" \
	"$W/lc:$lowers" "$W/ctr.json"
umount "$W/lc"
for i in 1 2 3; do umount "$W/l$i"; done
exit 0
