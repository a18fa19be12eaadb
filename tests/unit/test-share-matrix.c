// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the pairwise matrix and the grouping onto nodes, on random
 * small fleets (fingerprints met in several sizes and layout classes,
 * files without one, images that are not share-ready):
 *   - every cell of the matrix is what the share report says of that pair
 *     alone, and every image's figure alone is the report's of it alone;
 *   - each node's exact figure is the report's of the node's images;
 *   - the heuristic grouping is as good as the best one found by trying
 *     every partition (erofs_share_group_exhaustive()), and no grouping
 *     beats the lower bound the heuristic states.
 */
#include <stdlib.h>

#include "erofs/share.h"
#include "erofs/share_matrix.h"
#include "unit.h"

#define MAX_IMAGES 9
#define MAX_FILES 200

struct tfile {
	unsigned int img;
	u64 size;
	bool compressed;
	int fp; /* -1: none */
};

struct fleet {
	unsigned int n;
	bool ready[MAX_IMAGES];
	struct tfile f[MAX_FILES];
	unsigned int nf;
};

static u64 rnd_state;

static u64 rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void make_fleet(struct fleet *fl, unsigned int n)
{
	static const u64 sizes[12] = {
		100,   5000,  4096,  70000, 9000, 1,
		20000, 12288, 33000, 4097,  800,  150000
	};

	memset(fl, 0, sizeof(*fl));
	fl->n = n;
	for (unsigned int i = 0; i < n; i++) {
		bool zimg = rnd() % 5 == 0;
		unsigned int files = 3 + rnd() % 12;

		fl->ready[i] = rnd() % 8 != 0;
		for (unsigned int k = 0; k < files && fl->nf < MAX_FILES; k++) {
			struct tfile *t = &fl->f[fl->nf++];
			unsigned int r = rnd() % 100;

			t->img = i;
			t->compressed = zimg;
			if (r < 70) { /* from a pool shared by the fleet */
				t->fp = rnd() % 12;
				t->size = sizes[t->fp];
				if (rnd() % 10 == 0)
					t->size += 5000; /* forged size */
				if (rnd() % 10 == 0)
					t->compressed = !t->compressed;
			} else if (r < 85) {
				t->fp = -1;
				t->size = 1 + rnd() % 30000;
			} else {
				t->fp = 100 + fl->nf;
				t->size = 1 + rnd() % 30000;
			}
		}
	}
}

/* A report of the images in "mask" (all: ~0), in the fleet's order. */
static struct erofs_share *feed(const struct fleet *fl, u32 mask,
				const struct erofs_share_report **r)
{
	struct erofs_share_opts o = { .top = 3 };
	struct erofs_share *s;
	char name[16], path[16];

	if (erofs_share_new(&s, &o))
		return NULL;
	for (unsigned int i = 0; i < fl->n; i++) {
		if (!(mask & (1U << i)))
			continue;
		snprintf(name, sizeof(name), "img%u", i);
		erofs_share_add_image(s, name,
				      fl->ready[i] ? "trusted.erofs.fingerprint"
						   : NULL);
		for (unsigned int k = 0; k < fl->nf; k++) {
			const struct tfile *t = &fl->f[k];
			u8 value[39] = "sha256:";
			struct erofs_share_file f = {
				.path = path,
				.size = t->size,
				.compressed = t->compressed,
				.nofp = EROFS_SHARE_FP_ABSENT,
			};

			if (t->img != i)
				continue;
			snprintf(path, sizeof(path), "/f%u", k % 7);
			if (t->fp >= 0) {
				memset(value + 7, t->fp + 1, 32);
				f.fp = value;
				f.fp_len = sizeof(value);
			}
			erofs_share_add_file(s, &f);
		}
	}
	if (erofs_share_finish(s, r)) {
		erofs_share_free(s);
		return NULL;
	}
	return s;
}

static u64 shared_of(const struct fleet *fl, u32 mask)
{
	const struct erofs_share_report *r;
	struct erofs_share *s = feed(fl, mask, &r);
	u64 b = s ? r->shared_bytes : UINT64_MAX;

	erofs_share_free(s);
	return b;
}

static u64 saving_of(const struct fleet *fl, u32 mask)
{
	const struct erofs_share_report *r;
	struct erofs_share *s = feed(fl, mask, &r);
	u64 b = s ? r->saving_bytes : UINT64_MAX;

	erofs_share_free(s);
	return b;
}

static unsigned int cells, cells_ok, alones, alone_ok, nodes_ok, nodes_checked;

static void check_matrix(const struct fleet *fl, struct erofs_share *s,
			 const struct erofs_share_report *r)
{
	struct erofs_share_matrix mx;

	if (erofs_share_matrix_compute(s, r, &mx)) {
		CHECK("matrix: computed", 0);
		return;
	}
	for (unsigned int i = 0; i < fl->n; i++) {
		alones++;
		alone_ok += mx.alone_bytes[i] == shared_of(fl, 1U << i);
		for (unsigned int j = i + 1; j < fl->n; j++) {
			u64 want = saving_of(fl, 1U << i | 1U << j);

			cells++;
			cells_ok += mx.saving_bytes[i * fl->n + j] == want &&
				    mx.saving_bytes[j * fl->n + i] == want;
		}
	}
	erofs_share_matrix_free(&mx);
}

/* Each node's exact figure against the report of its images alone. */
static void check_nodes(const struct fleet *fl,
			const struct erofs_share_grouping *g)
{
	for (unsigned int k = 0; k < g->nr_nodes; k++) {
		u32 mask = 0;

		for (unsigned int i = 0; i < fl->n; i++)
			if (g->node_of[i] == k)
				mask |= 1U << i;
		nodes_checked++;
		nodes_ok += g->node_exact_bytes[k] == shared_of(fl, mask);
	}
}

static unsigned int cases, optimal, bound_ok, rules_ok;

static void check_grouping(const struct fleet *fl, struct erofs_share *s,
			   const struct erofs_share_report *r,
			   const struct erofs_share_opts *o)
{
	struct erofs_share_grouping h, x;
	bool same;

	if (erofs_share_group(s, r, o, &h)) {
		CHECK("grouping: heuristic runs", 0);
		return;
	}
	if (erofs_share_group_exhaustive(s, r, o, &x)) {
		CHECK("grouping: exhaustive runs", 0);
		erofs_share_grouping_free(&h);
		return;
	}
	cases++;
	if (o->node_memory)
		same = h.nr_nodes == x.nr_nodes &&
		       h.total_bytes == x.total_bytes;
	else
		same = h.total_bytes == x.total_bytes;
	optimal += same;
	if (!same)
		printf("# not the best: %u images, nodes %u, budget %llu: %u nodes %llu bytes, best %u nodes %llu bytes\n",
		       fl->n, o->nodes, (unsigned long long)o->node_memory,
		       h.nr_nodes, (unsigned long long)h.total_bytes,
		       x.nr_nodes, (unsigned long long)x.total_bytes);
	/* the bound holds for the best grouping, not only ours */
	bound_ok += x.total_bytes >= h.bound_bytes &&
		    (!o->node_memory || x.nr_nodes >= h.bound_nodes);
	if (x.total_bytes < h.bound_bytes ||
	    (o->node_memory && x.nr_nodes < h.bound_nodes))
		printf("# bound: nodes %u budget %llu: best %u nodes %llu bytes, bound %u nodes %llu bytes\n",
		       o->nodes, (unsigned long long)o->node_memory, x.nr_nodes,
		       (unsigned long long)x.total_bytes, h.bound_nodes,
		       (unsigned long long)h.bound_bytes);
	/* the rules: images per node, budget (an image larger alone) */
	{
		bool ok = true;

		for (unsigned int k = 0; k < h.nr_nodes; k++) {
			unsigned int c = 0;

			for (unsigned int i = 0; i < fl->n; i++)
				c += h.node_of[i] == k;
			if (o->nodes && c > h.per_node)
				ok = false;
			if (o->node_memory && c > 1 &&
			    h.node_bytes[k] > o->node_memory)
				ok = false;
		}
		if (o->nodes && h.nr_nodes > o->nodes)
			ok = false;
		rules_ok += ok;
	}
	check_nodes(fl, &h);
	erofs_share_grouping_free(&h);
	erofs_share_grouping_free(&x);
}

int main(void)
{
	unsigned int trials = 0;
	char msg[128];

	rnd_state = 0x2545f4914f6cdd1dULL;
	for (unsigned int n = 2; n <= MAX_IMAGES; n++) {
		for (unsigned int t = 0; t < (n <= 6 ? 12 : 4); t++) {
			const struct erofs_share_report *r;
			struct erofs_share *s;
			struct fleet fl;

			make_fleet(&fl, n);
			s = feed(&fl, ~0U, &r);
			if (!s) {
				CHECK("fleet report", 0);
				continue;
			}
			trials++;
			check_matrix(&fl, s, r);
			for (unsigned int k = 1; k <= n; k++) {
				struct erofs_share_opts o = { .nodes = k };

				check_grouping(&fl, s, r, &o);
			}
			for (unsigned int b = 1; b <= 4; b++) {
				struct erofs_share_opts o = {
					.node_memory =
						r->shared_bytes * b / 4 + 1,
				};

				check_grouping(&fl, s, r, &o);
			}
			erofs_share_free(s);
		}
	}
	snprintf(msg, sizeof(msg),
		 "matrix: %u of %u cells are the pair's own report (%u fleets)",
		 cells_ok, cells, trials);
	CHECK(msg, cells && cells_ok == cells);
	snprintf(msg, sizeof(msg),
		 "matrix: %u of %u images alone are their own report", alone_ok,
		 alones);
	CHECK(msg, alones && alone_ok == alones);
	snprintf(
		msg, sizeof(msg),
		"grouping: %u of %u nodes' exact figures are their images' report",
		nodes_ok, nodes_checked);
	CHECK(msg, nodes_checked && nodes_ok == nodes_checked);
	snprintf(
		msg, sizeof(msg),
		"grouping: the heuristic finds the best of every partition in %u of %u cases",
		optimal, cases);
	CHECK(msg, cases && optimal == cases);
	snprintf(
		msg, sizeof(msg),
		"grouping: the stated bound holds for the best grouping (%u of %u)",
		bound_ok, cases);
	CHECK(msg, cases && bound_ok == cases);
	snprintf(msg, sizeof(msg),
		 "grouping: images per node and budgets kept (%u of %u)",
		 rules_ok, cases);
	CHECK(msg, cases && rules_ok == cases);
	UNIT_EXIT();
}
