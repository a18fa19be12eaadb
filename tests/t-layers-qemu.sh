#!/bin/bash
# t-layers-qemu.sh: page cache sharing of layered and multi-device images,
# measured on a real 7.x kernel (qemu): two versions of one image, in three
# forms our mkfs writes share-ready where erofs-utils writes no
# fingerprints, must save exactly what identical contents allow:
#   (a) tar index layers with --ishare, as containerd keeps them (the index
#       followed by its tar in one file, mounted with no device=);
#   (b) blob-device images (--chunksize --blobdev --ishare), device= blob;
#   (c) a merged image over layer images (a base layer and an app layer of
#       each version, mkfs OUT BASE APP --ishare), device= per layer.
# The expectation comes from the source trees (bench/share-ideal.py), the
# tolerance is t-ishare-qemu.sh's: the saving is compared within
# 2 x BASELINE_KB of each run + 16 KiB.
. "$(dirname "$0")/lib.sh"

T=layers-qemu
W=${LAYERS_KEEP:-$TEST_TMP}; mkdir -p "$W"
RUN=$TOP_SRCDIR/tests/oracle/qemu-ishare/run.sh
IDEAL=$TOP_SRCDIR/bench/share-ideal.py

. "$TOP_SRCDIR/tests/qemu_share_lib.sh"
qemu_share_ready || exit 0
. "$TOP_SRCDIR/bench/share-trees.sh"

ival() { sed -n "s/^$2=//p" "$W/$1" | head -n1; }
noise() { echo $((2 * ($(val "$1" BASELINE_KB) + $(val "$2" BASELINE_KB)) + 16)); }

# saving NAME PLAIN SHARE EXPECTED_KB: growth without sharing minus growth
# with it, both images read in one boot
saving() {
	local got tol
	got=$(($(val "$2" DELTA_KB) - $(val "$3" DELTA_KB)))
	tol=$(noise "$2" "$3")
	if [ "$got" -ge $(($4 - tol)) ] && [ "$got" -le $(($4 + tol)) ]; then
		pass "$T: $1 saves what identical contents allow ($got KiB, ideal $4 +-$tol)"
	else
		fail "$T: $1" "saved $got KiB, ideal $4 +-$tol"
	fi
}

# both NAME ARGS...: one boot without sharing, one with
both() {
	local name=$1
	shift
	measure "$name-plain" "$@" || return 1
	measure "$name-share" --share --domain layers "$@"
}

run_mkfs_q() {
	local what=$1
	shift
	if ! "$MKFS" --quiet "$@" >"$W/mkfs.log" 2>&1; then
		fail "$T: $what" "$(tail -n1 "$W/mkfs.log")"
		return 1
	fi
}

A=$W/A B=$W/B
gen_pair "$A" "$B"
"$PY" "$IDEAL" "$A" "$B" >"$W/ab.ideal"
ideal_ab=$(($(ival ab.ideal SAVING_BYTES) / 1024))

# (a) tar index layers, as containerd keeps them: [index][tar]
ok=1
for v in A B; do
	tar -C "$W/$v" -cf "$W/$v.tar" . || ok=0
	run_mkfs_q "--tar=i --ishare $v" --tar=i --aufs --ishare "$W/$v-ti.erofs" \
		<"$W/$v.tar" || ok=0
	cat "$W/$v.tar" >>"$W/$v-ti.erofs"
done
if [ $ok = 1 ] && both ti "$W/A-ti.erofs" "$W/B-ti.erofs"; then
	saving "(a) tar index layers" ti-plain ti-share "$ideal_ab"
fi

# (b) blob devices
ok=1
for v in A B; do
	run_mkfs_q "--blobdev --ishare $v" --chunksize=4096 --ishare \
		--blobdev="$W/$v.blob" "$W/$v-b.erofs" "$W/$v" || ok=0
done
if [ $ok = 1 ]; then
	for mode in plain share; do
		extra=(--img-data 0 "device=@dev0" --img-data 1 "device=@dev1")
		[ $mode = share ] && extra=(--share --domain layers
			--img-data 0 "device=@dev0,inode_share,domain_id=layers"
			--img-data 1 "device=@dev1,inode_share,domain_id=layers")
		measure "blob-$mode" "${extra[@]}" --disk "$W/A.blob" \
			--disk "$W/B.blob" "$W/A-b.erofs" "$W/B-b.erofs" || ok=0
	done
	[ $ok = 1 ] && saving "(b) blob-device images" blob-plain blob-share "$ideal_ab"
fi

# (c) merged images over layer images: a common base layer, an app layer
# per version; the views are base/ and app/ side by side
BASE=$W/base
mkdir -p "$BASE"
head -c 300000 /dev/urandom >"$BASE/lib1"
head -c 70000 /dev/urandom >"$BASE/lib2"
echo "common config" >"$BASE/conf"
ok=1
mk_layer() { # NAME DIR PREFIX
	tar -C "$2" --transform "s,^\.,$3," -cf "$W/$1.tar" . &&
		run_mkfs_q "layer $1" --tar=f --aufs -Enoinline_data \
			"$W/$1.erofs" "$W/$1.tar"
}
mk_layer base "$BASE" ./base || ok=0
mk_layer appA "$A" ./app || ok=0
mk_layer appB "$B" ./app || ok=0
for v in A B; do
	run_mkfs_q "merge base+app$v --ishare" --ishare "$W/m$v.erofs" \
		"$W/base.erofs" "$W/app$v.erofs" || ok=0
	rm -rf "$W/u$v"
	mkdir -p "$W/u$v"
	cp -a "$BASE" "$W/u$v/base" && cp -a "$W/$v" "$W/u$v/app" || ok=0
done
if [ $ok = 1 ]; then
	"$PY" "$IDEAL" "$W/uA" "$W/uB" >"$W/u.ideal"
	ideal_u=$(($(ival u.ideal SAVING_BYTES) / 1024))
	cp "$W/base.erofs" "$W/base2.erofs"
	for mode in plain share; do
		d0="device=@dev0,device=@dev1" d1="device=@dev2,device=@dev3"
		extra=()
		[ $mode = share ] && { d0="$d0,inode_share,domain_id=layers"
			d1="$d1,inode_share,domain_id=layers"; }
		measure "merged-$mode" --img-data 0 "$d0" --img-data 1 "$d1" \
			--disk "$W/base.erofs" --disk "$W/appA.erofs" \
			--disk "$W/base2.erofs" --disk "$W/appB.erofs" \
			"$W/mA.erofs" "$W/mB.erofs" || ok=0
	done
	[ $ok = 1 ] && saving "(c) merged images over layers" merged-plain \
		merged-share "$ideal_u"
fi
exit 0
