// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Share reports through the public API (include/liberofs.h): the inputs
 * read as dump.erofs --share-report reads them (lib/share_report.c), the
 * figures copied to the public structures, and the report printed by the
 * tool's own printers (lib/share_print.c) into memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "erofs/share.h"
#include "erofs/share_report.h"

struct liberofs_share_report {
	struct erofs_share *s;
	struct liberofs_share_totals totals;
	struct liberofs_share_image *images;
	char *json, *text;
	size_t json_len, text_len;
};

/* one printer's output, in memory */
static int print_to(void (*print)(const struct erofs_share_report *, FILE *),
		    const struct erofs_share_report *r, char **text,
		    size_t *len)
{
	FILE *f = open_memstream(text, len);

	if (!f)
		return erofs_fail(-ENOMEM, "share report: out of memory");
	print(r, f);
	if (fclose(f))
		return erofs_fail(-ENOMEM, "share report: out of memory");
	return 0;
}

static void copy_figures(struct liberofs_share_report *p,
			 const struct erofs_share_report *r)
{
	struct liberofs_share_totals *t = &p->totals;

	for (unsigned int i = 0; i < r->nr_images; i++) {
		const struct erofs_share_image *a = &r->images[i];
		struct liberofs_share_image *b = &p->images[i];

		b->name = a->name;
		b->fingerprint_name = a->fp_name;
		b->files = a->files;
		b->links = a->links;
		b->bytes = a->bytes;
		b->page_bytes = a->page_bytes;
		b->added_bytes = a->added_bytes;
		b->shareable_bytes = a->shareable_bytes;
		b->fingerprinted = a->fingerprinted;
		b->nofp_files = a->nofp_files;
		b->nofp_bytes = a->nofp_bytes;
		b->compressed_files = a->compressed_files;
		b->dirs = a->dirs;
		b->dir_bytes = a->dir_bytes;
		b->verified = a->verified;
		b->mismatched = a->mismatched;
		b->unverified = a->unverified;
		b->storage_bytes = a->storage_bytes;
		b->storage_shared_bytes = a->storage_shared_bytes;
	}
	t->page_size = r->page_size;
	t->nr_images = r->nr_images;
	t->images = p->images;
	t->files = r->files;
	t->total_bytes = r->total_bytes;
	t->noshare_bytes = r->noshare_bytes;
	t->shared_bytes = r->shared_bytes;
	t->saving_bytes = r->saving_bytes;
	t->saving_percent = r->saving_percent;
	t->shared_contents = r->shared_contents;
	t->dir_bytes = r->dir_bytes;
	t->size_conflict_files = r->size_conflict_files;
	t->size_conflict_bytes = r->size_conflict_bytes;
	t->class_conflict_files = r->class_conflict_files;
	t->class_conflict_bytes = r->class_conflict_bytes;
	t->nofp_files = r->nofp_files;
	t->nofp_bytes = r->nofp_bytes;
	t->notready_files = r->notready_files;
	t->notready_bytes = r->notready_bytes;
	t->rebuild_shared_bytes = r->rebuild_shared_bytes;
	t->verified = r->verified;
	t->mismatched = r->mismatched;
	t->unverified = r->unverified;
	t->left_damaged = r->left_damaged;
	t->left_over_bound = r->left_over_bound;
	t->storage_referenced_bytes = r->storage_referenced_bytes;
	t->storage_bytes = r->storage_bytes;
	t->storage_shared_bytes = r->storage_shared_bytes;
}

static int report_new(struct liberofs_share_report *p,
		      const struct liberofs_share_input *in, unsigned int n,
		      const struct liberofs_share_options *opts)
{
	/* dump.erofs's defaults */
	struct erofs_share_opts o = { .top = 10 };
	const struct erofs_share_report *r;
	struct erofs_image_opts *io;
	char **paths;
	int ret = 0;

	if (!in || n < 2)
		return erofs_fail(
			-EINVAL,
			"a share report needs two images or more (the same one twice is fine)");
	if (opts) {
		o.page_size = opts->page_size;
		o.top = opts->top;
		o.verify = opts->verify;
	}
	paths = calloc(n, sizeof(*paths));
	io = calloc(n, sizeof(*io));
	if (!paths || !io)
		ret = erofs_fail(-ENOMEM, "share report: out of memory");
	for (unsigned int i = 0; !ret && i < n; i++) {
		if (!in[i].path)
			ret = erofs_fail(-EINVAL, "input %u has no path", i);
		paths[i] = (char *)in[i].path;
		io[i].devices = in[i].devices;
		io[i].nr_devices = in[i].nr_devices;
	}
	if (!ret)
		ret = erofs_share_report_collect(paths, io, n, &o, &p->s);
	free(paths);
	free(io);
	if (!ret)
		ret = erofs_share_finish(p->s, &r);
	if (ret)
		return ret;
	p->images = calloc(r->nr_images ? r->nr_images : 1, sizeof(*p->images));
	if (!p->images)
		return erofs_fail(-ENOMEM, "share report: out of memory");
	copy_figures(p, r);
	ret = print_to(erofs_share_print_json, r, &p->json, &p->json_len);
	if (!ret)
		ret = print_to(erofs_share_print, r, &p->text, &p->text_len);
	return ret;
}

LIBEROFS_EXPORT int liberofs_share_report_new(
	liberofs_share_report **report,
	const struct liberofs_share_input *inputs, unsigned int n,
	const struct liberofs_share_options *opts, char **errmsg)
{
	struct erofs_error_scope scope;
	struct liberofs_share_report *p;
	int ret;

	erofs_error_scope_enter(&scope);
	*report = NULL;
	p = calloc(1, sizeof(*p));
	ret = p ? report_new(p, inputs, n, opts)
		: erofs_fail(-ENOMEM, "share report: out of memory");
	if (ret)
		liberofs_share_report_free(p);
	else
		*report = p;
	return liberofs_leave_errmsg(&scope, ret, errmsg);
}

LIBEROFS_EXPORT const struct liberofs_share_totals *
liberofs_share_report_totals(const liberofs_share_report *report)
{
	return &report->totals;
}

LIBEROFS_EXPORT const char *
liberofs_share_report_json(const liberofs_share_report *report, size_t *len)
{
	if (len)
		*len = report->json_len;
	return report->json;
}

LIBEROFS_EXPORT const char *
liberofs_share_report_text(const liberofs_share_report *report, size_t *len)
{
	if (len)
		*len = report->text_len;
	return report->text;
}

LIBEROFS_EXPORT void liberofs_share_report_free(liberofs_share_report *report)
{
	if (!report)
		return;
	if (report->s)
		erofs_share_free(report->s);
	free(report->images);
	free(report->json);
	free(report->text);
	free(report);
}
