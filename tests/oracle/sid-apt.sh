# sid-apt.sh: sourceable bash library, a private apt for Debian unstable (sid).
# shellcheck shell=bash
#
# Nothing of the system's apt setup is read or written except the archive URI
# (taken from /etc/apt/sources.list.d/*.sources) and the archive keyring:
# lists, caches, dpkg status and downloads all live under the cache dir, so
# the machine keeps installing bookworm packages as before.
#
# Use:
#   . tests/oracle/sid-apt.sh
#   sid_update || exit 77          # at most once a day per cache dir
#   sid_version erofs-utils        # -> 1.9.1-1 (candidate version in sid)
#   mapfile -t debs < <(sid_download erofs-utils libc6)   # -> .deb paths
#   sid_apt_cache depends linux-image-amd64   # any apt-cache command
#
# Environment:
#   EROFS_TEST_CACHE   cache root (default: <repo>/tests/.cache)
#   SID_MAX_AGE        seconds before the lists are refreshed (default 86400)
#   SID_FORCE_UPDATE=1 refresh the lists now
#   SID_ARCHIVE_URI    archive to use instead of the system's (e.g. a mirror)
#
# Functions return non-zero (and say why on stderr) when the archive cannot
# be reached; callers turn that into exit 77 / SKIP.

# Guard against double sourcing: the functions are idempotent but the
# variables below would be recomputed needlessly.
if [[ -z ${SID_APT_SH_LOADED:-} ]]; then
SID_APT_SH_LOADED=1

SID_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SID_CACHE=${EROFS_TEST_CACHE:-$SID_REPO_ROOT/tests/.cache}
SID_DIR=$SID_CACHE/sid-apt
SID_DEBS=$SID_DIR/archives
SID_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

sid_log() { printf 'sid-apt: %s\n' "$*" >&2; }

# The system's own Debian archive URI: the URIs: line of the stanza whose
# Suites: name the plain release (not -security), so a mirror configured by
# the machine's owner is honoured.
sid_archive_uri() {
	local f uri
	# An explicit override, for a local mirror (or to test the offline path).
	if [[ -n ${SID_ARCHIVE_URI:-} ]]; then
		printf '%s\n' "${SID_ARCHIVE_URI%/}"
		return 0
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		uri=$(awk '
			BEGIN { RS = ""; FS = "\n" }
			{
				u = ""; s = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/)   { u = $i; sub(/^URIs:[ \t]*/, "", u) }
					if ($i ~ /^Suites:/) { s = $i }
				}
				if (u != "" && s !~ /-security/ && u !~ /security/) {
					split(u, a, /[ \t]+/); print a[1]; exit
				}
			}' "$f")
		if [[ -n $uri ]]; then
			printf '%s\n' "${uri%/}"
			return 0
		fi
	done
	# One-line format as a fallback, for machines without deb822 files.
	uri=$(awk '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit }
		}' /etc/apt/sources.list 2>/dev/null || true)
	if [[ -n $uri ]]; then
		printf '%s\n' "${uri%/}"
		return 0
	fi
	sid_log "no Debian archive URI in /etc/apt/sources.list.d/*.sources"
	return 1
}

# Lay out the private apt tree once; cheap when it already exists.
sid_setup() {
	local uri
	uri=$(sid_archive_uri) || return 1
	if [[ ! -r $SID_KEYRING ]]; then
		sid_log "missing $SID_KEYRING (package debian-archive-keyring)"
		return 1
	fi
	mkdir -p "$SID_DIR/state/lists/partial" "$SID_DIR/cache/archives/partial" \
		"$SID_DEBS" "$SID_DIR/etc/preferences.d"
	: >>"$SID_DIR/state/status"
	printf 'deb [signed-by=%s] %s sid main\n' "$SID_KEYRING" "$uri" \
		>"$SID_DIR/etc/sources.list.new"
	# Rewrite only on change so the list mtime stays meaningful.
	if cmp -s "$SID_DIR/etc/sources.list.new" "$SID_DIR/etc/sources.list"; then
		rm -f "$SID_DIR/etc/sources.list.new"
	else
		mv "$SID_DIR/etc/sources.list.new" "$SID_DIR/etc/sources.list"
		rm -f "$SID_DIR/updated"
	fi
}

# Every apt invocation goes through here. Each Dir:: option points away from
# /etc/apt and /var/{lib,cache}/apt: the lists, the binary caches (pkgcache.bin
# would otherwise be rebuilt in /var/cache/apt with sid in it), the dpkg
# status (empty, so "installed" bookworm versions never shadow sid's) and
# pinning. The sandbox user is root because the cache dir may sit in a tree
# the _apt user cannot write.
sid_apt_opts() {
	SID_APT_OPTS=(
		-o "Dir::Etc::SourceList=$SID_DIR/etc/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=/dev/null"
		-o "Dir::Etc::PreferencesParts=$SID_DIR/etc/preferences.d"
		-o "Dir::State=$SID_DIR/state"
		-o "Dir::State::Lists=$SID_DIR/state/lists"
		-o "Dir::State::status=$SID_DIR/state/status"
		-o "Dir::Cache=$SID_DIR/cache"
		-o "Dir::Cache::Archives=$SID_DIR/cache/archives"
		-o "APT::Architecture=amd64"
		-o "APT::Architectures=amd64"
		-o "APT::Sandbox::User=root"
		-o "Acquire::Languages=none"
		-o "Acquire::Retries=2"
		-o "Acquire::http::Timeout=30"
	)
}

sid_apt_get() {
	sid_apt_opts
	apt-get -q "${SID_APT_OPTS[@]}" "$@"
}

sid_apt_cache() {
	sid_apt_opts
	apt-cache "${SID_APT_OPTS[@]}" "$@"
}

# Lists for the configured archive: apt names them after the URI, scheme
# dropped and '/' turned to '_'; files of a previous URI do not count.
sid_have_lists() {
	local uri
	uri=$(sid_archive_uri) || return 1
	uri=${uri#*://}
	compgen -G "$SID_DIR/state/lists/${uri//\//_}_dists_sid_main_binary-amd64_Packages*" \
		>/dev/null
}

# Refresh the sid lists unless they are younger than SID_MAX_AGE. A failed
# refresh with older lists present warns and keeps them (a test run should not
# die because the mirror hiccuped); without any lists it fails.
sid_update() {
	sid_setup || return 1
	# Serialise concurrent test scripts sharing one cache dir; the second
	# one then finds the fresh stamp and returns at once.
	{ flock 8 && sid_update_locked; } 8>"$SID_DIR/update.lock"
}

sid_update_locked() {
	local max_age=${SID_MAX_AGE:-86400} now stamp_age log
	now=$(date +%s)
	if [[ -z ${SID_FORCE_UPDATE:-} && -e $SID_DIR/updated ]] && sid_have_lists; then
		stamp_age=$((now - $(stat -c %Y "$SID_DIR/updated")))
		if ((stamp_age >= 0 && stamp_age < max_age)); then
			return 0
		fi
	fi
	log=$SID_DIR/update.log
	sid_log "updating Debian unstable package lists in $SID_DIR"
	if sid_apt_get update >"$log" 2>&1 && ! grep -q '^[EW]: ' "$log" &&
		sid_have_lists; then
		touch "$SID_DIR/updated"
		return 0
	fi
	if sid_have_lists; then
		sid_log "update failed, reusing older lists (see $log)"
		return 0
	fi
	sid_log "cannot fetch Debian unstable lists: $(grep -m1 -E '^(E|W|Err):' "$log" || tail -n1 "$log")"
	return 1
}

# Candidate version of PKG in sid (empty and non-zero when unknown).
sid_version() {
	local v
	sid_update || return 1
	v=$(sid_apt_cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" { print $2; exit }')
	if [[ -z $v || $v == "(none)" ]]; then
		sid_log "package $1 not in sid"
		return 1
	fi
	printf '%s\n' "$v"
}

# Download the sid candidate of each PKG (or PKG=VERSION) into the shared
# archive dir unless already there; print one absolute .deb path per package,
# in argument order. One apt-cache call resolves all names: per-package calls
# cost about a second each.
sid_download() {
	local spec pkg name missing=() paths=()
	local -A file_of=()
	sid_update || return 1
	(($#)) || return 0
	# apt-get download names a file PKG_VER_ARCH.deb, an epoch colon
	# written %3a; compute the same name from the index.
	while read -r pkg name; do
		file_of[$pkg]=$name
	done < <(sid_apt_cache show --no-all-versions "$@" 2>/dev/null | awk '
		/^Package:/      { p = $2 }
		/^Version:/      { v = $2; gsub(/:/, "%3a", v) }
		/^Architecture:/ { a = $2 }
		/^$/ { if (p != "") print p, p "_" v "_" a ".deb"; p = "" }
		END  { if (p != "") print p, p "_" v "_" a ".deb" }')
	for spec in "$@"; do
		pkg=${spec%%=*}
		name=${file_of[$pkg]:-}
		if [[ -z $name ]]; then
			sid_log "package $spec not in sid"
			return 1
		fi
		paths+=("$SID_DEBS/$name")
		[[ -s $SID_DEBS/$name ]] || missing+=("$spec")
	done
	if ((${#missing[@]})); then
		sid_log "downloading ${missing[*]}"
		# apt-get download writes to the current directory.
		if ! (flock 8 && cd "$SID_DEBS" &&
			sid_apt_get download "${missing[@]}") \
			>"$SID_DIR/download.log" 2>&1 8>"$SID_DIR/download.lock"; then
			sid_log "download failed: $(grep -m1 -E '^(E|Err):' "$SID_DIR/download.log" || tail -n1 "$SID_DIR/download.log")"
			return 1
		fi
	fi
	for name in "${paths[@]}"; do
		if [[ ! -s $name ]]; then
			sid_log "download did not produce $name"
			return 1
		fi
		printf '%s\n' "$name"
	done
}

fi
