/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The share report of dump.erofs --share-report over images and
 * fingerprint manifests, and what its figures mean for the exit status.
 */
#ifndef EROFS_SHARE_REPORT_H
#define EROFS_SHARE_REPORT_H

#include <stdio.h>

#include "erofs/image_open.h"
#include "erofs/share.h"

/*
 * The whole report for image files "paths" (the same one may be given
 * twice), each opened with its "iopts" (its device files; NULL: none), or
 * fingerprint manifests (lib/manifest.c) standing for their images,
 * printed to "out": the report, or with o->matrix, o->nodes or
 * o->node_memory the matrix and grouping (lib/share_matrix.c). Fails when
 * an input cannot be read, and with -EBADMSG after printing when verify
 * found fingerprints that do not match their files' content, or -EUCLEAN
 * when the figures leave something out.
 */
int erofs_share_report_images(char *const *paths,
			      const struct erofs_image_opts *iopts,
			      unsigned int n, const struct erofs_share_opts *o,
			      bool json, FILE *out);

/*
 * The inputs of erofs_share_report_images() read into an accumulator,
 * before erofs_share_finish(): the library's API (lib/api_share.c) takes
 * the figures from there. The caller frees *sp.
 */
int erofs_share_report_collect(char *const *paths,
			       const struct erofs_image_opts *iopts,
			       unsigned int n, const struct erofs_share_opts *o,
			       struct erofs_share **sp);

/*
 * What the figures of a finished report say about the run: -EBADMSG when
 * verify found fingerprints that do not match their files' content,
 * -EUCLEAN when the figures leave something out, 0 otherwise; the first
 * two with a message recorded.
 */
int erofs_share_report_status(const struct erofs_share_report *r);

#endif
