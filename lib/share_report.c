// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The share report over a set of inputs (erofs/share_report.h): images
 * scanned by lib/share.c and fingerprint manifests read by lib/manifest.c
 * feed one accumulator, whose figures are printed as the report, or as
 * the pairwise matrix and grouping of lib/share_matrix.c.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "erofs/budget.h"
#include "erofs/error.h"
#include "erofs/image_open.h"
#include "erofs/manifest.h"
#include "erofs/share.h"
#include "erofs/share_matrix.h"
#include "erofs/share_report.h"

int erofs_share_report_status(const struct erofs_share_report *r)
{
	if (r->mismatched)
		return erofs_fail(
			-EBADMSG,
			"%llu fingerprints do not match the content of their files",
			(unsigned long long)r->mismatched);
	if (r->left_damaged || r->left_over_bound)
		return erofs_fail(
			-EUCLEAN,
			"the figures leave out %llu damaged parts and %llu files not verified at a bound",
			(unsigned long long)r->left_damaged,
			(unsigned long long)r->left_over_bound);
	return 0;
}

int erofs_share_report_collect(char *const *paths,
			       const struct erofs_image_opts *iopts,
			       unsigned int n, const struct erofs_share_opts *o,
			       struct erofs_share **sp)
{
	struct erofs_budget budget;
	struct erofs_share *s;
	u64 bytes = 0;
	int ret;

	ret = erofs_share_new(&s, o);
	if (ret)
		return ret;
	/* one budget for the whole report, from the images' sizes */
	for (unsigned int i = 0; i < n; i++) {
		struct stat st;

		if (!stat(paths[i], &st) && S_ISREG(st.st_mode))
			bytes += st.st_size;
	}
	erofs_budget_init(&budget, o->max_decompressed, o->max_hole_hash,
			  bytes);
	for (unsigned int i = 0, j; i < n && !ret; i++) {
		struct erofs_image img;
		struct erofs_image_opts io = { 0 };

		/* manifests (lib/manifest.c) stand for their images */
		for (j = i; j < n; j++) {
			ret = erofs_manifest_probe(paths[j]);
			if (ret <= 0)
				break;
			if (iopts && iopts[j].nr_devices) {
				ret = erofs_fail(
					-EINVAL,
					"%s is a manifest: --device goes with images",
					paths[j]);
				break;
			}
		}
		if (ret < 0)
			break;
		if (j > i) {
			ret = erofs_manifest_read(paths + i, j - i, s, o);
			i = j - 1;
			continue;
		}
		ret = erofs_image_open(&img, paths[i], iopts ? &iopts[i] : &io);
		if (ret)
			break;
		img.budget = &budget;
		ret = erofs_share_scan_image(s, &img);
		erofs_image_close(&img);
	}
	if (!ret && erofs_share_nr_images(s) < 2)
		ret = erofs_fail(
			-EINVAL,
			"--share-report needs two images or more (the same one twice is fine)");
	erofs_budget_free(&budget);
	if (ret) {
		erofs_share_free(s);
		return ret;
	}
	*sp = s;
	return 0;
}

int erofs_share_report_images(char *const *paths,
			      const struct erofs_image_opts *iopts,
			      unsigned int n, const struct erofs_share_opts *o,
			      bool json, FILE *out)
{
	const struct erofs_share_report *r;
	struct erofs_share *s;
	int ret;

	ret = erofs_share_report_collect(paths, iopts, n, o, &s);
	if (ret)
		return ret;
	ret = erofs_share_finish(s, &r);
	if (!ret) {
		if (o->matrix || o->nodes || o->node_memory)
			ret = erofs_share_print_sets(s, r, o, json, out);
		else if (json)
			erofs_share_print_json(r, out);
		else
			erofs_share_print(r, out);
		if (!ret)
			ret = erofs_share_report_status(r);
	}
	erofs_share_free(s);
	return ret;
}
