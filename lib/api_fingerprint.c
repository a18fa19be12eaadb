// SPDX-License-Identifier: GPL-2.0-or-later
/* Fingerprints of buffers, descriptors and files (include/liberofs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "erofs/fingerprint.h"

#define READ_CHUNK (1U << 20)

static int begin(struct erofs_sha256 *sha)
{
	int ret = erofs_sha256_init(sha);

	if (ret == -EOPNOTSUPP)
		return erofs_fail(
			ret,
			"fingerprints need OpenSSL libcrypto, which this liberofs was built without");
	if (ret)
		return erofs_fail(ret, "SHA-256: %s", strerror(-ret));
	return 0;
}

static void finish(struct erofs_sha256 *sha, u64 size,
		   struct liberofs_fingerprint *fp)
{
	erofs_sha256_final(sha, fp->digest);
	erofs_sha256_free(sha);
	fp->value_len = erofs_fingerprint_value(fp->digest, fp->value);
	fp->name = LIBEROFS_FINGERPRINT_DEFAULT_NAME;
	fp->size = size;
}

LIBEROFS_EXPORT int liberofs_fingerprint_buffer(const void *buf, size_t len,
						struct liberofs_fingerprint *fp,
						char **errmsg)
{
	struct erofs_error_scope scope;
	struct erofs_sha256 sha;
	int ret;

	erofs_error_scope_enter(&scope);
	if (!fp || (!buf && len))
		ret = erofs_fail(-EINVAL, "fingerprint of a NULL buffer");
	else
		ret = begin(&sha);
	if (!ret) {
		erofs_sha256_update(&sha, buf, len);
		finish(&sha, len, fp);
	}
	return liberofs_leave_errmsg(&scope, ret, errmsg);
}

/* the content of "fd" from offset 0 to its end; "what" names it */
static int fingerprint_fd(int fd, const char *what,
			  struct liberofs_fingerprint *fp)
{
	struct erofs_sha256 sha;
	struct stat st;
	u64 pos = 0;
	u8 *buf;
	int ret;

	if (!fp)
		return erofs_fail(-EINVAL, "%s: no place for the fingerprint",
				  what);
	if (fstat(fd, &st))
		return erofs_fail(-errno, "%s: %s", what, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return erofs_fail(-EINVAL, "%s: not a regular file", what);
	buf = malloc(READ_CHUNK);
	if (!buf)
		return erofs_fail(-ENOMEM, "%s: out of memory", what);
	ret = begin(&sha);
	while (!ret) {
		ssize_t n = pread(fd, buf, READ_CHUNK, pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = erofs_fail(-errno, "%s: %s", what,
					 strerror(errno));
			erofs_sha256_free(&sha);
			break;
		}
		if (!n) {
			finish(&sha, pos, fp);
			break;
		}
		erofs_sha256_update(&sha, buf, n);
		pos += n;
	}
	free(buf);
	return ret;
}

LIBEROFS_EXPORT int
liberofs_fingerprint_fd(int fd, struct liberofs_fingerprint *fp, char **errmsg)
{
	struct erofs_error_scope scope;
	char what[32];

	erofs_error_scope_enter(&scope);
	snprintf(what, sizeof(what), "descriptor %d", fd);
	return liberofs_leave_errmsg(&scope, fingerprint_fd(fd, what, fp),
				     errmsg);
}

LIBEROFS_EXPORT int liberofs_fingerprint_path(const char *path,
					      struct liberofs_fingerprint *fp,
					      char **errmsg)
{
	struct erofs_error_scope scope;
	int fd, ret;

	erofs_error_scope_enter(&scope);
	if (!path) {
		ret = erofs_fail(-EINVAL, "fingerprint of a NULL path");
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = erofs_fail(-errno, "%s: %s", path,
					 strerror(errno));
		} else {
			ret = fingerprint_fd(fd, path, fp);
			close(fd);
		}
	}
	return liberofs_leave_errmsg(&scope, ret, errmsg);
}
