// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tar reader's input: a thread reads and decompresses the archive into
 * a ring of large buffers while the caller parses the previous ones, so
 * that decompression overlaps with building the tree and spooling data.
 *
 * gzip is inflated here with zlib rather than by libarchive because
 * libarchive's gzip reader does not verify the CRC and length in each
 * member's trailer: a corrupt layer would build without a word. Other
 * compressions (xz, zstd, bzip2, ...) go through libarchive's filters,
 * whose libraries check their own integrity data. A plain tar through a
 * pipe is read straight into the ring (a 200 MB piped layer built in
 * 134 ms against 147 ms through libarchive's raw reader and a copy).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "erofs/error.h"
#include "erofs/io.h"
#include "erofs/tar_stream.h"

#ifdef HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#define STREAM_BUFSZ (1U << 20)
#define STREAM_NBUFS 4

enum gzip_state { GZIP_IN_MEMBER, GZIP_BETWEEN_MEMBERS };

struct stream_buf {
	u8 *data;
	size_t len;
};

struct erofs_tar_stream {
	int fd;
	const char *name;
	const char *dump_path;
	/* the dump is named only once the whole stream went into it */
	struct erofs_output dump;
	bool dump_open;
	u64 dump_pos;
	int dump_fd; /* a pipe or device to write the dump through instead */

	/* raw input, for the gzip inflater or libarchive's filters */
	u8 *in;
	size_t in_len; /* bytes in "in" from in_off on, not yet used */
	size_t in_off;
	bool in_eof;
	u64 in_total; /* bytes read from fd */
	u64 in_pos; /* bytes consumed: what messages and progress show */

	const char *filter;
	bool end; /* the producer saw the end of its input */
	bool bad; /* the producer failed (after handing on what it had) */
#ifdef HAVE_ZLIB
	bool gzip;
	z_stream z;
	enum gzip_state gz;
#endif
	bool plain; /* a plain tar: read straight into the ring */
	struct archive *raw; /* libarchive's filters, when not gzip */
	bool raw_started;
	const u8 *raw_ptr; /* what libarchive gave and is not copied yet */
	size_t raw_len;

	/* the ring: the thread fills at head, the reader empties at tail */
	struct stream_buf bufs[STREAM_NBUFS];
	unsigned int head, tail, count;
	bool held; /* the reader holds bufs[tail] */
	bool eof, failed, stop;
	char errmsg[512];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	/*
	 * A plain tar in a regular file is read in place, without the
	 * thread: "pos" is where the next read starts, and data the parser
	 * does not need is skipped by moving it (erofs_tar_stream_skip).
	 */
	bool direct;
	u64 pos, size;
};

static void __printf(2, 3) stream_fail(struct erofs_tar_stream *s,
				       const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->failed) {
		va_start(ap, fmt);
		vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
		va_end(ap);
		s->failed = true;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void set_in_pos(struct erofs_tar_stream *s, u64 pos)
{
	__atomic_store_n(&s->in_pos, pos, __ATOMIC_RELAXED);
}

/* One read(2) of the input into "buf": its length, 0 at the end, -1. */
static ssize_t read_input(struct erofs_tar_stream *s, u8 *buf, size_t cap)
{
	ssize_t n;

	do {
		n = read(s->fd, buf, cap);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		stream_fail(s, "read error after input byte %llu: %s",
			    (unsigned long long)s->in_total, strerror(errno));
		return -1;
	}
	if (!n)
		s->in_eof = true;
	s->in_total += n;
	return n;
}

/* Read more raw input into "in" after what is not used yet. */
static int fill_input(struct erofs_tar_stream *s)
{
	ssize_t n;

	if (s->in_off) {
		memmove(s->in, s->in + s->in_off, s->in_len);
		s->in_off = 0;
	}
	n = read_input(s, s->in + s->in_len, STREAM_BUFSZ - s->in_len);
	if (n < 0)
		return -1;
	s->in_len += n;
	return 0;
}

static void use_input(struct erofs_tar_stream *s, size_t n)
{
	s->in_off += n;
	s->in_len -= n;
	set_in_pos(s, s->in_pos + n);
}

/* libarchive's read callback for its filters: hand on the raw input. */
static la_ssize_t raw_input(struct archive *a, void *cookie, const void **buf)
{
	struct erofs_tar_stream *s = cookie;
	size_t n;

	if (!s->in_len && !s->in_eof && fill_input(s)) {
		archive_set_error(a, EIO, "%s", s->errmsg);
		return -1;
	}
	n = s->in_len;
	*buf = s->in + s->in_off;
	s->in_off += n;
	s->in_len = 0;
	return n;
}

#ifdef HAVE_ZLIB
/*
 * Inflate into "out". Concatenated members are one stream, as gzip(1)
 * reads them; zero bytes after the last member (block padding) are
 * skipped; anything else there is ignored with a warning, as gzip(1)
 * does. zlib checks each member's CRC and length.
 */
static ssize_t gzip_fill(struct erofs_tar_stream *s, u8 *out, size_t cap)
{
	z_stream *z = &s->z;

	z->next_out = out;
	z->avail_out = cap;
	while (z->avail_out && !s->end) {
		int ret;

		while (s->in_len < 2 && !s->in_eof)
			if (fill_input(s))
				goto failed;
		if (s->gz == GZIP_BETWEEN_MEMBERS) {
			const u8 *p = s->in + s->in_off;
			size_t zeroes = 0;

			if (!s->in_len) {
				s->end = true;
				break;
			}
			if (s->in_len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
				inflateReset(z);
				s->gz = GZIP_IN_MEMBER;
				continue;
			}
			while (zeroes < s->in_len && !p[zeroes])
				zeroes++;
			if (!zeroes) {
				erofs_warn("%s: data after the gzip stream (input byte %llu) ignored",
					   s->name, (unsigned long long)s->in_pos);
				s->end = true;
				break;
			}
			use_input(s, zeroes);
			continue;
		}
		if (!s->in_len) {
			stream_fail(s, "truncated gzip stream: the input ends at byte %llu inside a member",
				    (unsigned long long)s->in_total);
			goto failed;
		}
		z->next_in = s->in + s->in_off;
		z->avail_in = s->in_len;
		ret = inflate(z, Z_NO_FLUSH);
		use_input(s, s->in_len - z->avail_in);
		if (ret == Z_STREAM_END) {
			s->gz = GZIP_BETWEEN_MEMBERS;
			continue;
		}
		if (ret == Z_OK || (ret == Z_BUF_ERROR && !z->avail_in))
			continue;
		stream_fail(s, "corrupt gzip data near input byte %llu: %s",
			    (unsigned long long)s->in_pos,
			    z->msg ? z->msg : "inflate failed");
		goto failed;
	}
	return cap - z->avail_out;
failed:
	s->bad = true;
	return cap - z->avail_out;
}
#endif

/* The next stretch of libarchive's decompressed output into "out". */
static ssize_t raw_fill(struct erofs_tar_stream *s, u8 *out, size_t cap)
{
	size_t done = 0;

	while (done < cap && !s->end) {
		struct archive_entry *e;
		la_int64_t off;
		const void *p;
		size_t len;
		int ret;

		if (!s->raw_started) {
			ret = archive_read_next_header(s->raw, &e);
			if (ret == ARCHIVE_EOF) {
				s->end = true;
				break;
			}
			if (ret < ARCHIVE_WARN)
				goto fail;
			s->raw_started = true;
		}
		if (!s->raw_len) {
			ret = archive_read_data_block(s->raw, &p, &len, &off);
			if (ret == ARCHIVE_EOF) {
				s->end = true;
				break;
			}
			if (ret < ARCHIVE_WARN)
				goto fail;
			s->raw_ptr = p;
			s->raw_len = len;
		}
		len = min_t(size_t, s->raw_len, cap - done);
		memcpy(out + done, s->raw_ptr, len);
		s->raw_ptr += len;
		s->raw_len -= len;
		done += len;
		set_in_pos(s, archive_filter_bytes(s->raw, -1));
	}
	return done;
fail:
	stream_fail(s, "%s: %s (input byte %llu)", s->filter,
		    archive_error_string(s->raw) ?: "decompression failed",
		    (unsigned long long)s->in_total);
	s->bad = true;
	return done;
}

/*
 * A plain tar through a pipe: what was read to recognize it first, then
 * reads into "out" until it is full, which spares libarchive's copy.
 */
static ssize_t plain_fill(struct erofs_tar_stream *s, u8 *out, size_t cap)
{
	size_t done = min(s->in_len, cap);

	memcpy(out, s->in + s->in_off, done);
	use_input(s, done);
	while (done < cap && !s->in_eof) {
		ssize_t n = read_input(s, out + done, cap - done);

		if (n < 0) {
			s->bad = true;
			break;
		}
		done += n;
		set_in_pos(s, s->in_total);
	}
	if (!done && s->in_eof)
		s->end = true;
	return done;
}

static int dump_write(struct erofs_tar_stream *s, const u8 *p, size_t len)
{
	int ret = 0;

	if (s->dump_fd >= 0) {
		for (size_t done = 0; done < len && !ret;) {
			ssize_t n = write(s->dump_fd, p + done, len - done);

			if (n > 0)
				done += n;
			else if (n < 0 && errno != EINTR)
				ret = -errno;
			else if (!n)
				ret = -ENOSPC;
		}
	} else {
		ret = erofs_output_write(&s->dump, p, len, s->dump_pos);
	}
	if (ret) {
		stream_fail(s, "%s: write failed: %s", s->dump_path,
			    strerror(-ret));
		return -1;
	}
	s->dump_pos += len;
	return 0;
}

static void *producer(void *arg)
{
	struct erofs_tar_stream *s = arg;

	for (;;) {
		struct stream_buf *b;
		ssize_t n;

		pthread_mutex_lock(&s->lock);
		while (s->count == STREAM_NBUFS && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		b = &s->bufs[s->head];
		pthread_mutex_unlock(&s->lock);

		n = 0;
#ifdef HAVE_ZLIB
		if (s->gzip)
			n = gzip_fill(s, b->data, STREAM_BUFSZ);
		else
#endif
		if (s->plain)
			n = plain_fill(s, b->data, STREAM_BUFSZ);
		else if (s->raw)
			n = raw_fill(s, b->data, STREAM_BUFSZ);
		else
			s->end = true; /* empty input */
		if (n > 0 && s->dump_open && dump_write(s, b->data, n))
			break;

		pthread_mutex_lock(&s->lock);
		if (n > 0) {
			b->len = n;
			s->head = (s->head + 1) % STREAM_NBUFS;
			s->count++;
		}
		s->eof = s->end;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		if (s->end || s->bad)
			break;
	}
	return NULL;
}

/*
 * A pipe holds 64 KiB by default: the writer and this reader then take
 * turns sixteen times per MiB. A pipe as large as a read lets both run at
 * once (a failure only leaves the default).
 */
static void widen_pipe(int fd)
{
	struct stat st;

	if (!fstat(fd, &st) && S_ISFIFO(st.st_mode))
		fcntl(fd, F_SETPIPE_SZ, STREAM_BUFSZ);
}

/* Whether "h" is a tar header whose checksum is right: no compression. */
static bool tar_header(const u8 h[512])
{
	unsigned int sum = 0, stored = 0, i;

	/* the checksum counts its own field as spaces */
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	for (i = 148; i < 156 && h[i] == ' '; i++)
		;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		stored = stored * 8 + (h[i] - '0');
	return i != 148 && stored == sum;
}

/* Whether "fd" is a regular file that starts with a valid tar header. */
static bool plain_tar_file(int fd, u64 *size)
{
	u8 h[512];
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    erofs_pread_full(fd, h, sizeof(h), 0) || !tar_header(h))
		return false;
	*size = st.st_size;
	return true;
}

int erofs_tar_stream_open(struct erofs_tar_stream **out, int fd,
			  const char *name, const char *dump_path)
{
	struct erofs_tar_stream *s = calloc(1, sizeof(*s));
	int ret;

	*out = s;
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->name = name;
	s->dump_path = dump_path;
	s->dump_fd = -1;
	widen_pipe(fd);
	s->filter = "none";
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->in = malloc(STREAM_BUFSZ);
	if (!s->in)
		return -ENOMEM;
	for (unsigned int i = 0; i < STREAM_NBUFS; i++) {
		s->bufs[i].data = malloc(STREAM_BUFSZ);
		if (!s->bufs[i].data)
			return -ENOMEM;
	}
	/* with a dump to write, every byte has to pass by anyway */
	if (!dump_path && plain_tar_file(fd, &s->size)) {
		s->direct = true;
		return 0;
	}
	if (dump_path) {
		struct stat st;

		s->dump_open = true;
		if (!stat(dump_path, &st) && !S_ISREG(st.st_mode)) {
			/* a pipe or a device takes the stream as it comes */
			s->dump_fd = open(dump_path, O_WRONLY | O_CLOEXEC);
			if (s->dump_fd < 0)
				return erofs_fail(-errno, "%s: %s", dump_path,
						  strerror(errno));
		} else {
			/* a copy for the user, unsynced, as erofs-utils's */
			ret = erofs_output_open(&s->dump, dump_path, false, 0);
			if (ret) {
				s->dump_open = false;
				return ret;
			}
		}
	}

	/*
	 * The first two bytes tell gzip, the first header a plain tar;
	 * libarchive's bidders do the rest
	 */
	while (s->in_len < 512 && !s->in_eof)
		if (fill_input(s))
			return erofs_fail(-EIO, "%s: %s", name, s->errmsg);
	if (s->in_len >= 512 && tar_header(s->in))
		s->plain = true;
#ifdef HAVE_ZLIB
	if (!s->plain && s->in_len >= 2 && s->in[0] == 0x1f &&
	    s->in[1] == 0x8b) {
		/* 16 + window bits: a gzip wrapper, with its checks */
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
			return -ENOMEM;
		s->gzip = true;
		s->gz = GZIP_IN_MEMBER;
		s->filter = "gzip";
	}
#endif
#ifdef HAVE_ZLIB
	if (!s->gzip && !s->plain && s->in_len) {
#else
	if (!s->plain && s->in_len) {
#endif
		s->raw = archive_read_new();
		if (!s->raw)
			return -ENOMEM;
		archive_read_support_filter_all(s->raw);
		archive_read_support_format_raw(s->raw);
		if (archive_read_open(s->raw, s, NULL, raw_input, NULL))
			return erofs_fail(-EIO, "%s: %s (input byte %llu)", name,
					  archive_error_string(s->raw) ?:
						  "cannot read the input",
					  (unsigned long long)s->in_total);
		s->filter = archive_filter_name(s->raw, 0);
		if (!s->filter)
			s->filter = "none";
	}
	ret = pthread_create(&s->thread, NULL, producer, s);
	if (ret)
		return erofs_fail(-ret, "cannot start the decompression thread: %s",
				  strerror(ret));
	s->started = true;
	return 0;
}

static ssize_t direct_read(struct erofs_tar_stream *s, const void **buf)
{
	size_t len = min_t(u64, STREAM_BUFSZ, s->size - s->pos);
	int ret;

	if (!len)
		return 0;
	ret = erofs_pread_full(s->fd, s->bufs[0].data, len, s->pos);
	if (ret) {
		s->failed = true;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "read error at input byte %llu: %s",
			 (unsigned long long)s->pos,
			 ret == -ENODATA ? "the file got shorter" :
					   strerror(-ret));
		return -1;
	}
	*buf = s->bufs[0].data;
	s->pos += len;
	set_in_pos(s, s->pos);
	return len;
}

bool erofs_tar_stream_seekable(struct erofs_tar_stream *s)
{
	return s->direct;
}

u64 erofs_tar_stream_skip(struct erofs_tar_stream *s, u64 len)
{
	if (!s->direct)
		return 0;
	len = min(len, s->size - s->pos);
	s->pos += len;
	set_in_pos(s, s->pos);
	return len;
}

ssize_t erofs_tar_stream_read(struct erofs_tar_stream *s, const void **buf)
{
	ssize_t ret;

	if (s->direct)
		return direct_read(s, buf);
	pthread_mutex_lock(&s->lock);
	if (s->held) {
		s->held = false;
		s->tail = (s->tail + 1) % STREAM_NBUFS;
		s->count--;
		pthread_cond_broadcast(&s->cond);
	}
	while (!s->count && !s->eof && !s->failed)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->count) {
		s->held = true;
		*buf = s->bufs[s->tail].data;
		ret = s->bufs[s->tail].len;
	} else {
		ret = s->failed ? -1 : 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

const char *erofs_tar_stream_error(struct erofs_tar_stream *s)
{
	const char *msg;

	pthread_mutex_lock(&s->lock);
	msg = s->failed ? s->errmsg : NULL;
	pthread_mutex_unlock(&s->lock);
	return msg;
}

u64 erofs_tar_stream_input_pos(struct erofs_tar_stream *s)
{
	return __atomic_load_n(&s->in_pos, __ATOMIC_RELAXED);
}

const char *erofs_tar_stream_filter(struct erofs_tar_stream *s)
{
	return s->filter;
}

int erofs_tar_stream_close(struct erofs_tar_stream *s)
{
	int ret = 0;

	if (!s)
		return 0;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
#ifdef HAVE_ZLIB
	if (s->gzip)
		inflateEnd(&s->z);
#endif
	if (s->raw)
		archive_read_free(s->raw);
	if (s->dump_fd >= 0 && close(s->dump_fd))
		ret = erofs_fail(-EIO, "%s: %s", s->dump_path, strerror(errno));
	else if (s->dump_open && s->dump_fd < 0) {
		/* a stream not read to its end leaves no partial dump */
		if (s->eof && !s->failed)
			ret = erofs_output_commit(&s->dump, s->dump_pos) ? -EIO :
									   0;
		erofs_output_abort(&s->dump);
	}
	for (unsigned int i = 0; i < STREAM_NBUFS; i++)
		free(s->bufs[i].data);
	free(s->in);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return ret;
}

#else /* !HAVE_LIBARCHIVE */

int erofs_tar_stream_open(struct erofs_tar_stream **out, int fd,
			  const char *name, const char *dump_path)
{
	*out = NULL;
	return erofs_fail(-EOPNOTSUPP, "--tar: built without libarchive");
}

ssize_t erofs_tar_stream_read(struct erofs_tar_stream *s, const void **buf)
{
	return -1;
}

const char *erofs_tar_stream_error(struct erofs_tar_stream *s)
{
	return "built without libarchive";
}

u64 erofs_tar_stream_input_pos(struct erofs_tar_stream *s)
{
	return 0;
}

const char *erofs_tar_stream_filter(struct erofs_tar_stream *s)
{
	return "none";
}

int erofs_tar_stream_close(struct erofs_tar_stream *s)
{
	return 0;
}

bool erofs_tar_stream_seekable(struct erofs_tar_stream *s)
{
	return false;
}

u64 erofs_tar_stream_skip(struct erofs_tar_stream *s, u64 len)
{
	return 0;
}

#endif
