/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Content fingerprints for page cache sharing: the SHA-256 of a file's
 * whole uncompressed content, stored as the xattr value "sha256:" followed
 * by the 32 raw digest bytes.
 */
#ifndef EROFS_FINGERPRINT_H
#define EROFS_FINGERPRINT_H

#include "erofs/defs.h"

#define EROFS_SHA256_SIZE 32
#define EROFS_ISHARE_DEFAULT_NAME "trusted.erofs.fingerprint"

struct erofs_sha256 {
	void *ctx;
};

/* Whether this build can compute fingerprints (OpenSSL was found). */
bool erofs_sha256_available(void);
int erofs_sha256_init(struct erofs_sha256 *s);
void erofs_sha256_update(struct erofs_sha256 *s, const void *data,
			 size_t len);
void erofs_sha256_final(struct erofs_sha256 *s, u8 out[EROFS_SHA256_SIZE]);
void erofs_sha256_free(struct erofs_sha256 *s);

/* Encode the xattr value of a digest; returns its length (39). */
unsigned int erofs_fingerprint_value(const u8 digest[EROFS_SHA256_SIZE],
				     u8 *out);
/* Parse a fingerprint xattr value; -EINVAL if it is not one. */
int erofs_fingerprint_parse(const u8 *value, size_t len,
			    u8 digest[EROFS_SHA256_SIZE]);

#endif
