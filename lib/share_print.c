// SPDX-License-Identifier: GPL-2.0-or-later
/* Share reports for people and as JSON. */
#include <string.h>

#include "erofs/dump.h"
#include "erofs/fingerprint.h"
#include "erofs/share.h"
#include "erofs/xattr.h"

static const char *size_str(char *buf, size_t len, u64 bytes)
{
	if (bytes >= 10ULL << 30)
		snprintf(buf, len, "%.1f GiB", bytes / 1073741824.0);
	else if (bytes >= 10ULL << 20)
		snprintf(buf, len, "%.1f MiB", bytes / 1048576.0);
	else if (bytes >= 10ULL << 10)
		snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	return buf;
}

static double pct(u64 part, u64 whole)
{
	return whole ? 100.0 * part / whole : 0;
}

/* A fingerprint for people: the digest of "sha256:" values, else hex. */
static void put_fp(FILE *out, const u8 *fp, u32 len, unsigned int max)
{
	u32 from = 0;

	if (len == EROFS_FINGERPRINT_VALUE_SIZE &&
	    !memcmp(fp, EROFS_FINGERPRINT_TAG, 7)) {
		fputs("sha256:", out);
		from = 7;
	}
	for (u32 i = from; i < len && i - from < max; i++)
		fprintf(out, "%02x", fp[i]);
}

static const char *nofp_reason[EROFS_SHARE_FP_NR] = {
	[EROFS_SHARE_FP_ABSENT] = "no fingerprint xattr",
	[EROFS_SHARE_FP_EMPTY] = "empty fingerprint value",
	[EROFS_SHARE_FP_TOO_LONG] = "fingerprint value longer than a block",
	[EROFS_SHARE_FP_UNREADABLE] = "damaged xattrs",
};

static const char *class_name(bool compressed)
{
	return compressed ? "compressed" : "uncompressed";
}

void erofs_share_print(const struct erofs_share_report *r, FILE *out)
{
	char b1[32], b2[32], b3[32], b4[32];
	u64 gain;

	fprintf(out, "Page cache sharing across %u images (%u-byte pages)\n",
		r->nr_images, r->page_size);
	fprintf(out,
		"Sharing needs every image mounted with inode_share and one domain_id\n"
		"(mount -o inode_share,domain_id=NAME) on Linux 7.0 or later.\n\n");
	for (unsigned int i = 0; i < r->nr_images; i++) {
		const struct erofs_share_image *im = &r->images[i];

		fprintf(out, "[%u] ", i);
		erofs_fputs_escaped(im->name, strlen(im->name), out);
		fputc('\n', out);
		if (im->fp_name) {
			fputs("    fingerprints: xattr \"", out);
			erofs_fputs_escaped(im->fp_name, strlen(im->fp_name),
					    out);
			fprintf(out, "\" on %llu of %llu non-empty files\n",
				(unsigned long long)im->fingerprinted,
				(unsigned long long)(im->fingerprinted +
						     im->nofp_files));
		} else {
			fputs("    fingerprints: none (not share-ready: rebuild with --ishare)\n",
			      out);
		}
		fprintf(out,
			"    regular files: %llu (%llu names), %s (%llu compressed)\n",
			(unsigned long long)im->files,
			(unsigned long long)im->links,
			size_str(b1, sizeof(b1), im->bytes),
			(unsigned long long)im->compressed_files);
		fprintf(out,
			"    page cache without sharing: %s; shareable: %s (%.1f%%)\n",
			size_str(b1, sizeof(b1), im->page_bytes),
			size_str(b2, sizeof(b2), im->shareable_bytes),
			pct(im->shareable_bytes, im->page_bytes));
		fprintf(out,
			"    added with sharing, read after the images above: %s\n",
			size_str(b1, sizeof(b1), im->added_bytes));
		fprintf(out,
			"    directories: %llu, %s of page cache (never shared)\n",
			(unsigned long long)im->dirs,
			size_str(b1, sizeof(b1), im->dir_bytes));
		fprintf(out,
			"    storage: %s (the image, and file data on %u extra devices); in common with other images: %s\n",
			size_str(b1, sizeof(b1), im->storage_bytes),
			im->extra_devices,
			size_str(b2, sizeof(b2), im->storage_shared_bytes));
	}
	fprintf(out, "\nAll images: %llu regular files, %s\n",
		(unsigned long long)r->files,
		size_str(b1, sizeof(b1), r->total_bytes));
	fprintf(out, "  page cache without sharing: %s\n",
		size_str(b1, sizeof(b1), r->noshare_bytes));
	fprintf(out, "  page cache with sharing:    %s\n",
		size_str(b1, sizeof(b1), r->shared_bytes));
	fprintf(out, "  saving:                     %s (%.2f%%)\n",
		size_str(b1, sizeof(b1), r->saving_bytes), r->saving_percent);
	fprintf(out, "  contents held once for several files: %llu\n",
		(unsigned long long)r->shared_contents);
	fprintf(out, "  plus directories, never shared: %s\n",
		size_str(b1, sizeof(b1), r->dir_bytes));
	fprintf(out,
		"\nStorage (each image's file, and the ranges of extra devices its files use):\n");
	fprintf(out, "  the images one by one:       %s\n",
		size_str(b1, sizeof(b1), r->storage_referenced_bytes));
	fprintf(out, "  held once on storage:        %s\n",
		size_str(b1, sizeof(b1), r->storage_bytes));
	fprintf(out,
		"  shared on storage already:   %s used by two images or more (same device\n"
		"  file or tag, same blocks), saving %s (%.2f%%)\n",
		size_str(b1, sizeof(b1), r->storage_shared_bytes),
		size_str(b2, sizeof(b2),
			 r->storage_referenced_bytes - r->storage_bytes),
		pct(r->storage_referenced_bytes - r->storage_bytes,
		    r->storage_referenced_bytes));

	if (r->nr_top) {
		fprintf(out, "\nTop %u shared contents by page cache saved:\n",
			r->nr_top);
		for (unsigned int k = 0; k < r->nr_top; k++) {
			const struct erofs_share_content *c = &r->top[k];

			fprintf(out, "  %2u. saves %s: %llu files of %s (%s), ",
				k + 1,
				size_str(b1, sizeof(b1), c->saving_bytes),
				(unsigned long long)c->members,
				size_str(b2, sizeof(b2), c->size),
				class_name(c->compressed));
			put_fp(out, c->fp, c->fp_len, 8);
			fputs("...\n", out);
			for (unsigned int i = 0; i < r->nr_images; i++) {
				if (!c->sample[i])
					continue;
				fprintf(out, "      [%u] ", i);
				erofs_fputs_escaped(c->sample[i],
						    strlen(c->sample[i]), out);
				if (c->per_image[i] > 1)
					fprintf(out, " (and %llu more)",
						(unsigned long long)c
								->per_image[i] -
							1);
				fputc('\n', out);
			}
		}
	}

	fputs("\nWhat does not share:\n", out);
	fprintf(out, "  same fingerprint, other size: %llu files, %s\n",
		(unsigned long long)r->size_conflict_files,
		size_str(b1, sizeof(b1), r->size_conflict_bytes));
	fprintf(out, "  same fingerprint, other layout class: %llu files, %s\n",
		(unsigned long long)r->class_conflict_files,
		size_str(b1, sizeof(b1), r->class_conflict_bytes));
	for (unsigned int k = 0; k < r->nr_conflicts; k++) {
		const struct erofs_share_conflict *c = &r->conflicts[k];

		fprintf(out, "    [%u] ", c->other_image);
		erofs_fputs_escaped(c->other_path, strlen(c->other_path), out);
		if (c->size_differs)
			fprintf(out, ": %llu bytes, but the copy of [%u] ",
				(unsigned long long)c->other_size, c->image);
		else
			fprintf(out, ": %s, but the copy of [%u] ",
				class_name(c->other_compressed), c->image);
		erofs_fputs_escaped(c->path, strlen(c->path), out);
		if (c->size_differs)
			fprintf(out, " has %llu bytes\n",
				(unsigned long long)c->size);
		else
			fprintf(out,
				" is %s: build both with the same compression options\n",
				class_name(c->compressed));
	}
	if (r->size_conflict_files + r->class_conflict_files > r->nr_conflicts)
		fprintf(out, "    ... (%llu more)\n",
			(unsigned long long)(r->size_conflict_files +
					     r->class_conflict_files -
					     r->nr_conflicts));
	fprintf(out,
		"  files without a usable fingerprint in share-ready images: %llu, %s\n",
		(unsigned long long)r->nofp_files,
		size_str(b1, sizeof(b1), r->nofp_bytes));
	for (unsigned int i = 0; i < r->nr_images; i++) {
		const struct erofs_share_image *im = &r->images[i];

		if (!im->fp_name || !im->nofp_files)
			continue;
		for (int k = EROFS_SHARE_FP_ABSENT; k < EROFS_SHARE_FP_NR; k++)
			if (im->nofp[k])
				fprintf(out, "    [%u] %llu: %s\n", i,
					(unsigned long long)im->nofp[k],
					nofp_reason[k]);
	}
	fprintf(out, "  files in images that are not share-ready: %llu, %s\n",
		(unsigned long long)r->notready_files,
		size_str(b1, sizeof(b1), r->notready_bytes));
	gain = r->shared_bytes > r->rebuild_shared_bytes
		       ? r->shared_bytes - r->rebuild_shared_bytes
		       : 0;
	fprintf(out,
		"  a rebuild with --ishare and the same layout class for identical contents\n"
		"  would hold %s with sharing, saving %s more (%.2f%% in all)",
		size_str(b3, sizeof(b3), r->rebuild_shared_bytes),
		size_str(b4, sizeof(b4), gain),
		pct(r->noshare_bytes - r->rebuild_shared_bytes,
		    r->noshare_bytes));
	if (r->rebuild_guessed_files)
		fprintf(out,
			";\n  an estimate: %llu files without fingerprints were matched by path and\n"
			"  size (a file changed in place counts as shared, a renamed one as not;\n"
			"  --verify hashes their content instead)\n",
			(unsigned long long)r->rebuild_guessed_files);
	else
		fputs("\n", out);
	if (r->verified + r->mismatched + r->unverified)
		fprintf(out,
			"\nVerified: %llu fingerprints match their content, %llu do not%s, %llu could not be checked\n",
			(unsigned long long)r->verified,
			(unsigned long long)r->mismatched,
			r->mismatched
				? " (the kernel would share them anyway and serve another file's data)"
				: "",
			(unsigned long long)r->unverified);
	if (r->left_damaged || r->left_over_bound)
		fprintf(out,
			"\nLeft out of these figures: %llu damaged parts of the images, %llu files\nnot verified at a bound of the run\n",
			(unsigned long long)r->left_damaged,
			(unsigned long long)r->left_over_bound);
}

/* JSON strings: escapes, and bytes that are not UTF-8 as \u00XX. */
static void json_str(FILE *out, const char *s)
{
	const u8 *p = (const u8 *)s;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		unsigned int n = 0;

		if (*p >= 0xc2 && *p <= 0xf4)
			n = *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : 1;
		for (unsigned int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n) {
			fwrite(p, 1, n + 1, out);
			p += n + 1;
			continue;
		}
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
		p++;
	}
	fputc('"', out);
}

static void json_hex(FILE *out, const u8 *b, u32 len)
{
	fputc('"', out);
	for (u32 i = 0; i < len; i++)
		fprintf(out, "%02x", b[i]);
	fputc('"', out);
}

/* one "key":number member */
#define J(key, v) fprintf(out, "\"%s\":%llu", key, (unsigned long long)(v))

void erofs_share_print_json(const struct erofs_share_report *r, FILE *out)
{
	fputc('{', out);
	J("page_size", r->page_size);
	fputs(",\"mount_options\":\"inode_share,domain_id=NAME (one domain_id for all)\",",
	      out);
	J("files", r->files);
	fputc(',', out);
	J("total_bytes", r->total_bytes);
	fputc(',', out);
	J("noshare_bytes", r->noshare_bytes);
	fputc(',', out);
	J("shared_bytes", r->shared_bytes);
	fputc(',', out);
	J("saving_bytes", r->saving_bytes);
	fprintf(out, ",\"saving_percent\":%.4f,", r->saving_percent);
	J("shared_contents", r->shared_contents);
	fputc(',', out);
	J("dir_bytes", r->dir_bytes);
	fputs(",\"storage\":{", out);
	J("referenced_bytes", r->storage_referenced_bytes);
	fputc(',', out);
	J("bytes", r->storage_bytes);
	fputc(',', out);
	J("shared_bytes", r->storage_shared_bytes);
	fputc(',', out);
	J("saving_bytes", r->storage_referenced_bytes - r->storage_bytes);
	fputs("},\"images\":[", out);
	for (unsigned int i = 0; i < r->nr_images; i++) {
		const struct erofs_share_image *im = &r->images[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		json_str(out, im->name);
		fputs(",\"fingerprint_xattr\":", out);
		json_str(out, im->fp_name);
		fprintf(out, ",\"share_ready\":%s,",
			im->fp_name ? "true" : "false");
		J("files", im->files);
		fputc(',', out);
		J("links", im->links);
		fputc(',', out);
		J("bytes", im->bytes);
		fputc(',', out);
		J("noshare_bytes", im->page_bytes);
		fputc(',', out);
		J("added_bytes", im->added_bytes);
		fputc(',', out);
		J("shareable_bytes", im->shareable_bytes);
		fputc(',', out);
		J("fingerprinted_files", im->fingerprinted);
		fputc(',', out);
		J("nofp_files", im->nofp_files);
		fputc(',', out);
		J("nofp_bytes", im->nofp_bytes);
		fputc(',', out);
		J("compressed_files", im->compressed_files);
		fputc(',', out);
		J("dirs", im->dirs);
		fputc(',', out);
		J("dir_bytes", im->dir_bytes);
		fputc(',', out);
		J("extra_devices", im->extra_devices);
		fputc(',', out);
		J("storage_bytes", im->storage_bytes);
		fputc(',', out);
		J("storage_shared_bytes", im->storage_shared_bytes);
		fputc('}', out);
	}
	fputs("],\"top\":[", out);
	for (unsigned int k = 0; k < r->nr_top; k++) {
		const struct erofs_share_content *c = &r->top[k];

		fputs(k ? ",{\"fingerprint\":" : "{\"fingerprint\":", out);
		json_hex(out, c->fp, c->fp_len);
		fputc(',', out);
		J("size", c->size);
		fprintf(out, ",\"compressed\":%s,",
			c->compressed ? "true" : "false");
		J("files", c->members);
		fputc(',', out);
		J("saving_bytes", c->saving_bytes);
		fputs(",\"files_per_image\":[", out);
		for (unsigned int i = 0; i < r->nr_images; i++)
			fprintf(out, i ? ",%llu" : "%llu",
				(unsigned long long)c->per_image[i]);
		fputs("],\"paths\":[", out);
		for (unsigned int i = 0; i < r->nr_images; i++) {
			if (i)
				fputc(',', out);
			json_str(out, c->sample[i]);
		}
		fputs("]}", out);
	}
	fputs("],\"lost\":{", out);
	J("size_conflict_files", r->size_conflict_files);
	fputc(',', out);
	J("size_conflict_bytes", r->size_conflict_bytes);
	fputc(',', out);
	J("class_conflict_files", r->class_conflict_files);
	fputc(',', out);
	J("class_conflict_bytes", r->class_conflict_bytes);
	fputc(',', out);
	J("nofp_files", r->nofp_files);
	fputc(',', out);
	J("nofp_bytes", r->nofp_bytes);
	fputc(',', out);
	J("notready_files", r->notready_files);
	fputc(',', out);
	J("notready_bytes", r->notready_bytes);
	fputs(",\"conflicts\":[", out);
	for (unsigned int k = 0; k < r->nr_conflicts; k++) {
		const struct erofs_share_conflict *c = &r->conflicts[k];

		fprintf(out,
			"%s{\"reason\":\"%s\",\"fingerprint\":", k ? "," : "",
			c->size_differs ? "size" : "layout class");
		json_hex(out, c->fp, c->fp_len);
		fprintf(out, ",\"image\":%u,\"path\":", c->other_image);
		json_str(out, c->other_path);
		fputc(',', out);
		J("size", c->other_size);
		fprintf(out,
			",\"compressed\":%s,\"copy_image\":%u,\"copy_path\":",
			c->other_compressed ? "true" : "false", c->image);
		json_str(out, c->path);
		fputc(',', out);
		J("copy_size", c->size);
		fprintf(out, ",\"copy_compressed\":%s}",
			c->compressed ? "true" : "false");
	}
	fputs("]},\"rebuild\":{", out);
	J("shared_bytes", r->rebuild_shared_bytes);
	fputc(',', out);
	J("saving_bytes", r->noshare_bytes - r->rebuild_shared_bytes);
	fputc(',', out);
	J("guessed_files", r->rebuild_guessed_files);
	fprintf(out, ",\"estimated\":%s},\"verify\":{",
		r->rebuild_guessed_files ? "true" : "false");
	J("verified", r->verified);
	fputc(',', out);
	J("mismatched", r->mismatched);
	fputc(',', out);
	J("unverified", r->unverified);
	fputs("},\"left_out\":{", out);
	J("damaged_parts", r->left_damaged);
	fputc(',', out);
	J("files_over_bound", r->left_over_bound);
	fprintf(out, ",\"complete\":%s,\"per_image\":[",
		r->left_damaged || r->left_over_bound ? "false" : "true");
	for (unsigned int i = 0; i < r->nr_images; i++)
		fprintf(out, "%s{\"damaged_parts\":%llu,\"files_over_bound\":%llu}",
			i ? "," : "",
			(unsigned long long)r->images[i].left_damaged,
			(unsigned long long)r->images[i].left_over_bound);
	fputs("]}}\n", out);
}
