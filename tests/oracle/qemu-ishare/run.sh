#!/bin/bash
# run.sh: boot Debian unstable's kernel under qemu TCG, mount EROFS images and measure page cache growth while reading them.
#
# Usage:
#   run.sh [--share | --noshare] [--domain NAME] [--data STRING]
#          [--img-data I STRING]... [--disk FILE]... [--exec SNIPPET]
#          [--no-measure] [--timeout SEC] [--keep] IMG...
#
#   --share        mount every image with "inode_share,domain_id=NAME"
#   --noshare      mount plainly (the default)
#   --domain NAME  domain_id for --share (default "test")
#   --data STRING  exact mount data string for every image (overrides both)
#   --img-data I STRING  mount data for image I (0-based) only, e.g. to give
#                  it another domain_id
#   --disk FILE    attach FILE as a disk that is not mounted: an extra
#                  device of an image; mount data names the J-th such disk
#                  (0-based) as @devJ, e.g. "device=@dev0,inode_share,..."
#   --exec SNIPPET guest shell snippet run after mounting (images at
#                  /mnt/0, /mnt/1, ..., busybox tools, `sharemount`); each
#                  output line is printed as "EXEC: ..."
#   --no-measure   skip the measurement (with --exec, for debugging)
#   --timeout SEC  whole-VM time limit (default 300)
#   --keep         keep the work dir (initramfs, console log), path on stderr
#
# Output on stdout, one KEY=VALUE a line (values in KiB unless named BYTES):
#   KERNEL=7.2.13+deb14-amd64
#   MOUNT_DATA=inode_share,domain_id=test    (empty for plain mounts)
#   IMG<i>_MOUNT_DATA=...   only for images given --img-data
#   IMAGES=N
#   BASELINE_KB=k    largest |Cached growth| over three phases that read an
#                    empty directory: the noise floor, use it as tolerance
#   CACHED_BEFORE_KB=k
#   IMG<i>_DELTA_KB=k  IMG<i>_FILES=n  IMG<i>_BYTES=b   per image, read in
#                    order 0..N-1 without dropping caches in between, so
#                    with sharing a later image's delta excludes what an
#                    earlier one already brought in
#   CACHED_AFTER_KB=k
#   DELTA_KB=k       CACHED_AFTER_KB - CACHED_BEFORE_KB
#   FILES=n  BYTES=b totals of the reads
#   DMESG: ...       kernel log lines that mention erofs
#   EXEC: ...        output of --exec
#   RESULT=ok        last line; missing means the guest did not finish
# Exit status: 0 with RESULT=ok, 77 when a prerequisite is missing (reason
# on stderr), 1 otherwise (console log tail on stderr).
#
# Each DELTA includes the image's metadata blocks read through the block
# device's cache, a few KiB per hundred files.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/oracle/sid-apt.sh
. "$here/../sid-apt.sh"

skip() { printf 'run.sh: %s\n' "$*" >&2; exit 77; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '3,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

share=0 domain=test data='' data_set=0 snippet='' measure=1 timeout_s=300 keep=0
images=()
disks=()
declare -A img_data=()
while (($#)); do
	case $1 in
	--share) share=1 ;;
	--noshare) share=0 ;;
	--domain) domain=${2:?}; shift ;;
	--data) data=${2?}; data_set=1; shift ;;
	--img-data)
		[[ ${2:-} =~ ^[0-9]+$ ]] || usage
		img_data[$2]=${3?}; shift 2 ;;
	--disk) disks+=("${2:?}"); shift ;;
	--exec) snippet=${2:?}; shift ;;
	--no-measure) measure=0 ;;
	--timeout) timeout_s=${2:?}; shift ;;
	--keep) keep=1 ;;
	-h | --help) usage ;;
	--) shift; images+=("$@"); break ;;
	-*) usage ;;
	*) images+=("$1") ;;
	esac
	shift
done
((${#images[@]})) || usage
((${#images[@]} <= 20)) || die "at most 20 images (PCI slots)"
if ((!data_set)); then
	if ((share)); then data="inode_share,domain_id=$domain"; else data=; fi
fi
for d in "$data" "${img_data[@]}"; do
	[[ $d != *[[:space:]\'\"\\]* ]] || die "mount data must not contain spaces or quotes"
done
((${#images[@]} + ${#disks[@]} <= 20)) || die "at most 20 disks (PCI slots)"
for img in "${images[@]}" "${disks[@]}"; do
	[[ -f $img && -r $img ]] || die "not a readable image file: $img"
done

for tool in qemu-system-x86_64 cpio gcc timeout; do
	command -v "$tool" >/dev/null || skip "missing $tool"
done
# The guest has no libc: busybox must be the static build.
BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
	if [[ -x $b ]] && ! readelf -l "$b" 2>/dev/null | grep -q 'INTERP'; then
		BUSYBOX=$b
		break
	fi
done
[[ -n $BUSYBOX ]] || skip "no static busybox (install busybox-static)"

KDIR=$("$here/kernel.sh") || exit $?

# sharemount is built from source at run time, never committed as a binary.
HDIR=$SID_CACHE/qemu-ishare
mkdir -p "$HDIR"
SHAREMOUNT=$HDIR/sharemount
if [[ ! -x $SHAREMOUNT || $here/sharemount.c -nt $SHAREMOUNT ]]; then
	gcc -static -O2 -Wall -Wextra -o "$SHAREMOUNT.tmp" "$here/sharemount.c" ||
		skip "cannot build static sharemount (is libc6-dev installed?)"
	mv "$SHAREMOUNT.tmp" "$SHAREMOUNT"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-ishare.XXXXXX")
cleanup() {
	if ((keep)); then
		printf 'run.sh: work dir kept: %s\n' "$work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,mnt,empty,modules}
cp "$BUSYBOX" "$root/bin/busybox"
cp "$SHAREMOUNT" "$root/bin/sharemount"
cp "$KDIR"/modules/*.ko "$root/modules/"
cp "$KDIR/modules.load" "$root/modules.load"
printf '%s\n' "$snippet" >"$root/exec.sh"
{
	printf 'NIMG=%d\n' "${#images[@]}"
	printf 'NDISK=%d\n' "${#disks[@]}"
	printf "DATA='%s'\n" "$data"
	for i in "${!img_data[@]}"; do
		printf "DATA_%d='%s'\n" "$i" "${img_data[$i]}"
	done
	printf 'MEASURE=%d\n' "$measure"
	printf 'HAVE_EXEC=%d\n' "$([[ -n $snippet ]] && echo 1 || echo 0)"
} >"$root/params"

# The guest writes results to its second serial port (a host file), so
# kernel messages on the console cannot interleave with them.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /params
exec 3>/dev/ttyS1
out() { echo "$@" >&3; }
finish() {
	if [ -n "$1" ]; then
		dmesg | grep -i erofs | sed 's/^/DMESG: /' >&3
		out "RESULT=ok"
	else
		dmesg | tail -n 20 | sed 's/^/DMESG: /' >&3
	fi
	exec 3>&-
	sync
	poweroff -f
	sleep 5
}
fail() { out "ERROR=$*"; finish; }
# stat_refresh folds the per-CPU counter deltas into the global ones that
# /proc/meminfo shows; without it Cached lags by up to tens of pages.
cached_kb() {
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	awk '$1 == "Cached:" { print $2 }' /proc/meminfo
}
# drop_caches twice with a pause: freeing is not always complete after one.
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1; echo 3 > /proc/sys/vm/drop_caches; }

for m in $(cat /modules.load); do
	insmod "/modules/$m" || fail "insmod $m"
done
# Map disks by the serial number the host gave each (img0, img1, ...),
# not by probe order.
i=0
while :; do
	n=0
	for s in /sys/block/vd*/serial; do [ -r "$s" ] && n=$((n + 1)); done
	[ $n -ge $((NIMG + NDISK)) ] && break
	i=$((i + 1))
	[ $i -gt 200 ] && fail "only $n of $((NIMG + NDISK)) virtio disks appeared"
	sleep 0.1
done
# extra devices first: mount data names them @dev0, @dev1, ...
subst=
for s in /sys/block/vd*/serial; do
	id=$(cat $s)
	dev=${s%/serial}; dev=/dev/${dev##*/}
	case $id in dev*) subst="$subst -e s#@$id\([^0-9]\|\$\)#$dev\1#g" ;; esac
done
for s in /sys/block/vd*/serial; do
	id=$(cat $s)
	dev=${s%/serial}; dev=/dev/${dev##*/}
	case $id in img*) ;; *) continue ;; esac
	k=${id#img}
	mkdir -p /mnt/$k
	eval "d=\${DATA_$k-\$DATA}"
	[ -n "$subst" ] && d=$(echo "$d" | sed $subst)
	sharemount mount "$dev" "/mnt/$k" "$d" 2>&3 || fail "mount $dev ($id) with '$d'"
done
out "KERNEL=$(uname -r)"
out "MOUNT_DATA=$DATA"
k=0
while [ $k -lt $NIMG ]; do
	eval "[ -n \"\${DATA_$k+x}\" ] && out \"IMG${k}_MOUNT_DATA=\$DATA_$k\""
	k=$((k + 1))
done
out "IMAGES=$NIMG"

if [ "$HAVE_EXEC" = 1 ]; then
	sh /exec.sh 2>&1 | sed 's/^/EXEC: /' >&3
fi

if [ "$MEASURE" = 1 ]; then
	drop
	# Noise floor: the same steps as a measured phase, reading nothing.
	base=0
	for _ in 1 2 3; do
		a=$(cached_kb)
		sharemount read /empty >/dev/null
		b=$(cached_kb)
		d=$((b - a)); [ $d -lt 0 ] && d=$((-d))
		[ $d -gt $base ] && base=$d
	done
	out "BASELINE_KB=$base"
	before=$(cached_kb)
	out "CACHED_BEFORE_KB=$before"
	prev=$before files=0 bytes=0 k=0
	while [ $k -lt $NIMG ]; do
		res=$(sharemount read /mnt/$k 2>&3) || fail "reading /mnt/$k: $res"
		now=$(cached_kb)
		f=${res#FILES=}; f=${f%% *}
		by=${res#*BYTES=}; by=${by%% *}
		out "IMG${k}_DELTA_KB=$((now - prev))"
		out "IMG${k}_FILES=$f"
		out "IMG${k}_BYTES=$by"
		files=$((files + f)) bytes=$((bytes + by)) prev=$now k=$((k + 1))
	done
	out "CACHED_AFTER_KB=$prev"
	out "DELTA_KB=$((prev - before))"
	out "FILES=$files"
	out "BYTES=$bytes"
fi
finish ok
EOF
chmod 755 "$root/init"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$work/initrd.cpio"

drives=()
for i in "${!images[@]}"; do
	# Commas in qemu option values are escaped by doubling.
	drives+=(-drive "file=${images[$i]//,/,,},if=none,id=d$i,format=raw,readonly=on"
		-device "virtio-blk-pci,drive=d$i,serial=img$i")
done
for j in "${!disks[@]}"; do
	drives+=(-drive "file=${disks[$j]//,/,,},if=none,id=x$j,format=raw,readonly=on"
		-device "virtio-blk-pci,drive=x$j,serial=dev$j")
done

: >"$work/results.txt"
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 3072 \
	-nodefaults -no-user-config -nographic -no-reboot -monitor none \
	-serial "file:$work/console.log" -serial "file:$work/results.txt" \
	-kernel "$KDIR/vmlinuz" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 quiet panic=-1" \
	"${drives[@]}" </dev/null >"$work/qemu.log" 2>&1 || rc=$?

tr -d '\r' <"$work/results.txt"
if ! tr -d '\r' <"$work/results.txt" | grep -qx 'RESULT=ok'; then
	if ((rc == 124)); then
		printf 'run.sh: guest timed out after %ss\n' "$timeout_s" >&2
	else
		printf 'run.sh: guest did not finish (qemu exit %d)\n' "$rc" >&2
	fi
	tr -d '\r' <"$work/results.txt" | grep '^ERROR=' >&2 || true
	printf 'run.sh: --- qemu output ---\n' >&2
	tail -n 5 "$work/qemu.log" >&2 || true
	printf 'run.sh: --- console tail ---\n' >&2
	tail -n 30 "$work/console.log" | tr -d '\r' >&2 || true
	exit 1
fi
