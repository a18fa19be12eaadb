/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sharing between the images of a set, for placing them on nodes: the page
 * cache each pair of images saves when mounted together (the pairwise
 * matrix), and a grouping of the images onto nodes that share most.
 *
 * The matrix follows the share report's model exactly: the pair (i, j),
 * i < j, is what "dump.erofs --share-report i j" reports as saved.
 *
 * The grouping counts a node's page cache as one copy per content (same
 * fingerprint value, size and layout class) present on the node, plus
 * every file without a fingerprint: the kernel's figure when the node
 * reads its images in the best order. Where one fingerprint comes with two
 * sizes or classes the kernel shares only the first met, so the figure
 * each node gets in the order given ("exact") may be higher; both are
 * shown. Finding the best grouping is NP-hard (it contains bin packing), so
 * a heuristic places the images and proves a lower bound that no grouping
 * can beat, to say how far from the best it may be:
 *   - onto K nodes of at most ceil(N / K) images: the bound counts each
 *     content once per ceil(images holding it / images per node) nodes;
 *   - onto nodes of at most M bytes of page cache: the fewest nodes, then
 *     the least page cache; the bound is ceil(all contents once / M).
 * The heuristic: images in decreasing order of page cache, each onto the
 * node it adds least to (where it fits), then moves and swaps of single
 * images while one saves page cache (and, with a budget, emptying the
 * emptiest nodes into the others), from several starting orders; the best
 * result is kept. Everything is deterministic.
 */
#ifndef EROFS_SHARE_MATRIX_H
#define EROFS_SHARE_MATRIX_H

#include <stdio.h>

#include "erofs/share.h"

struct erofs_share_matrix {
	unsigned int n;
	u64 *noshare_bytes; /* per image, alone, without sharing */
	u64 *alone_bytes;   /* per image, alone, with sharing */
	u64 *saving_bytes;  /* n * n: [i * n + j] the pair's; [i * n + i] 0 */
};

int erofs_share_matrix_compute(const struct erofs_share *s,
			       const struct erofs_share_report *r,
			       struct erofs_share_matrix *m);
void erofs_share_matrix_free(struct erofs_share_matrix *m);

struct erofs_share_grouping {
	unsigned int nr_images;
	unsigned int nr_nodes;	 /* nodes holding images */
	unsigned int per_node;	 /* at most this many images (nodes) */
	u64 node_memory;	 /* at most this much (budget); 0: none */
	unsigned int *node_of;	 /* per image: 0 .. nr_nodes - 1 */
	u64 *node_bytes;	 /* per node, as the grouping counts */
	u64 *node_exact_bytes;	 /* per node, images read in the order given */
	u64 *node_noshare_bytes; /* per node, without sharing */
	u64 total_bytes;	 /* node_bytes added up */
	u64 total_exact_bytes;
	u64 bound_bytes;	  /* no grouping needs less */
	unsigned int bound_nodes; /* budget: no grouping needs fewer */
	u64 apart_bytes;	  /* every image on a node of its own */
	u64 together_bytes;	  /* all images on one node */
	unsigned int over_budget; /* images larger than the budget alone */
	bool cut_short;		  /* the search stopped at its work limit */
};

/* Group the images of a finished accumulator as o->nodes or o->node_memory say.
 */
int erofs_share_group(const struct erofs_share *s,
		      const struct erofs_share_report *r,
		      const struct erofs_share_opts *o,
		      struct erofs_share_grouping *g);
void erofs_share_grouping_free(struct erofs_share_grouping *g);

/*
 * The best grouping by trying every partition (images <= 12), with the
 * same rules and the same count of page cache, for checking the
 * heuristic; -E2BIG above that.
 */
int erofs_share_group_exhaustive(const struct erofs_share *s,
				 const struct erofs_share_report *r,
				 const struct erofs_share_opts *o,
				 struct erofs_share_grouping *g);

/* Print the matrix and the grouping asked for, for people or as JSON. */
int erofs_share_print_sets(const struct erofs_share *s,
			   const struct erofs_share_report *r,
			   const struct erofs_share_opts *o, bool json,
			   FILE *out);

#endif
