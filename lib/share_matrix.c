// SPDX-License-Identifier: GPL-2.0-or-later
/* Sharing between images: the pairwise matrix and grouping onto nodes. */
#include <stdlib.h>
#include <string.h>

#include "erofs/array.h"
#include "erofs/dump.h"
#include "erofs/error.h"
#include "erofs/json.h"
#include "erofs/share_matrix.h"

/* A matrix of n * n u64 above this many images is refused (512 MiB). */
#define MATRIX_MAX_IMAGES 8192
/* Swaps are tried up to this many images: n * n evaluations a pass. */
#define SWAP_MAX_IMAGES 400
#define MAX_PASSES 100
/*
 * Contents looked at by the search (a second holds about 10^9): past this
 * it stops improving, keeps what it has and says so.
 */
#define WORK_LIMIT (8ULL << 30)

/*
 * The set as the grouping and the matrix see it. A content is a copy keyed
 * by fingerprint value; it is "mixed" when its files come in more than one
 * variant (size, layout class), which only the first met can share.
 * Contents of one variant held by the same images are added up into one
 * atom (an image set and its pages), and so are variants of mixed contents
 * (kept apart: the grouping counts them, the exact figures do not).
 */
struct atom {
	u64 off; /* its images in the pool */
	u32 len;
	bool simple; /* from contents of one variant */
	u64 pages;
	u64 hash;
};

struct mixed_img {
	u32 img;
	u32 first; /* the variant of its first file with the content */
	u64 pairs; /* its variants and their counts, up to the next's */
};

struct var_count {
	u32 var;
	u32 count;
};

struct model {
	unsigned int n;
	u32 page_size;
	u64 *noshare;	  /* per image, alone, without sharing */
	u64 *priv_files;  /* files without a copy to share */
	u64 *priv_simple; /* contents of one variant only this image has */
	u64 *priv_var;	  /* variants of mixed contents only it has */
	u64 *alone;	  /* exact, alone, with sharing */
	struct atom *atoms;
	u64 nr_atoms, cap_atoms;
	u32 *pool;
	u64 nr_pool, cap_pool;
	u32 *atab; /* atom index + 1 by image set */
	u64 atab_cap;
	u64 *img_off; /* per image, its atoms: img_atoms[img_off[i]..] */
	u32 *img_atoms;
	/* mixed contents: their images in order, and variant pages */
	u64 nr_mixed, cap_mixed;
	u64 *mixed_off;	 /* into mimg, nr_mixed + 1 */
	u64 *mixed_voff; /* into var_pages */
	u64 *var_pages;
	u64 nr_var_pages, cap_var_pages;
	struct mixed_img *mimg;
	u64 nr_mimg, cap_mimg;
	struct var_count *pairs;
	u64 nr_pairs, cap_pairs;
};

static u64 pages_of(const struct model *m, u64 size)
{
	return size / m->page_size * m->page_size +
	       (size % m->page_size ? m->page_size : 0);
}

static u64 hash_imgs(const u32 *imgs, u32 len, bool simple)
{
	u64 h = 1469598103934665603ULL ^ simple;

	for (u32 i = 0; i < len; i++)
		h = (h ^ imgs[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static int atab_grow(struct model *m)
{
	u64 cap = m->atab_cap ? m->atab_cap * 2 : 1024;
	u32 *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (u64 a = 0; a < m->nr_atoms; a++) {
		u64 j = m->atoms[a].hash & (cap - 1);

		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = a + 1;
	}
	free(m->atab);
	m->atab = t;
	m->atab_cap = cap;
	return 0;
}

/* Add "pages" to the atom of image set imgs[0..len), ascending. */
static int add_atom(struct model *m, const u32 *imgs, u32 len, bool simple,
		    u64 pages)
{
	u64 h = hash_imgs(imgs, len, simple), j;
	struct atom *a;
	int ret;

	if (len == 1) {
		if (simple)
			m->priv_simple[imgs[0]] += pages;
		else
			m->priv_var[imgs[0]] += pages;
		return 0;
	}
	if ((m->nr_atoms + 1) * 2 > m->atab_cap) {
		ret = atab_grow(m);
		if (ret)
			return ret;
	}
	for (j = h & (m->atab_cap - 1); m->atab[j];
	     j = (j + 1) & (m->atab_cap - 1)) {
		a = &m->atoms[m->atab[j] - 1];
		if (a->hash == h && a->len == len && a->simple == simple &&
		    !memcmp(m->pool + a->off, imgs, len * sizeof(*imgs))) {
			a->pages += pages;
			return 0;
		}
	}
	ret = erofs_grow_array(&m->atoms, &m->cap_atoms, m->nr_atoms + 1,
		   sizeof(*m->atoms));
	if (!ret)
		ret = erofs_grow_array(&m->pool, &m->cap_pool, m->nr_pool + len,
			   sizeof(*m->pool));
	if (ret)
		return ret;
	a = &m->atoms[m->nr_atoms];
	a->off = m->nr_pool;
	a->len = len;
	a->simple = simple;
	a->pages = pages;
	a->hash = h;
	memcpy(m->pool + m->nr_pool, imgs, len * sizeof(*imgs));
	m->nr_pool += len;
	m->atab[j] = ++m->nr_atoms;
	return 0;
}

/* What the two passes over the files keep per content. */
struct build {
	struct model *m;
	u64 nr;
	u32 *last;  /* last image + 1 that had it */
	u32 *nimg;  /* images having it */
	u32 *nfile; /* files having it */
	u64 *size;  /* of its first file */
	u8 *cls;    /* of its first file; bit 1: mixed */
	u64 *off;   /* pass 2: where its images (or files, mixed) go */
	u32 *list;  /* images of contents of one variant held by several */
	struct mfile {
		u32 img;
		bool cls;
		u64 size;
	} * mfiles; /* files of mixed contents, by content, in order */
};

static int pass1(void *arg, const struct erofs_share_member *f)
{
	struct build *b = arg;
	struct model *m = b->m;
	u64 p = pages_of(m, f->size);
	int64_t x = f->content;

	m->noshare[f->image] += p;
	if (x < 0) {
		m->priv_files[f->image] += p;
		return 0;
	}
	if (!b->nfile[x]++) {
		b->size[x] = f->size;
		b->cls[x] = f->compressed;
	} else if (b->size[x] != f->size || (b->cls[x] & 1) != f->compressed) {
		b->cls[x] |= 2;
	}
	if (b->last[x] != f->image + 1) {
		b->last[x] = f->image + 1;
		b->nimg[x]++;
	}
	return 0;
}

static int pass2(void *arg, const struct erofs_share_member *f)
{
	struct build *b = arg;
	int64_t x = f->content;

	if (x < 0)
		return 0;
	if (b->cls[x] & 2) {
		struct mfile *mf = &b->mfiles[b->off[x]++];

		mf->img = f->image;
		mf->cls = f->compressed;
		mf->size = f->size;
	} else if (b->nimg[x] > 1 && b->last[x] != f->image + 1) {
		b->last[x] = f->image + 1;
		b->list[b->off[x]++] = f->image;
	}
	return 0;
}

/* The pairs of mixed image entry e: [pairs of e, pairs of e + 1). */
static u64 pairs_end(const struct model *m, u64 e)
{
	return e + 1 < m->nr_mimg ? m->mimg[e + 1].pairs : m->nr_pairs;
}

/* How many files of variant v the image of entry e has. */
static u64 count_of(const struct model *m, u64 e, u32 v)
{
	for (u64 q = m->mimg[e].pairs; q < pairs_end(m, e); q++)
		if (m->pairs[q].var == v)
			return m->pairs[q].count;
	return 0;
}

/* Scratch space of add_mixed(), kept from one content to the next. */
struct mixed_scratch {
	u64 cap;
	u32 *tab, *vid, *pos, *nv, *imgs;
	u64 (*key)[2];
};

static int scratch_grow(struct mixed_scratch *sc, u64 nf)
{
	u64 cap = sc->cap ? sc->cap : 16;

	if (nf * 2 <= sc->cap)
		return 0;
	while (cap < nf * 2)
		cap *= 2;
	free(sc->tab);
	free(sc->vid);
	free(sc->pos);
	free(sc->nv);
	free(sc->imgs);
	free(sc->key);
	sc->tab = malloc(cap * sizeof(*sc->tab));
	sc->vid = malloc(cap * sizeof(*sc->vid));
	sc->pos = malloc(cap * sizeof(*sc->pos));
	sc->nv = malloc((cap + 1) * sizeof(*sc->nv));
	sc->imgs = malloc(cap * sizeof(*sc->imgs));
	sc->key = malloc(cap * sizeof(*sc->key));
	sc->cap = cap;
	if (!sc->tab || !sc->vid || !sc->pos || !sc->nv || !sc->imgs ||
	    !sc->key) {
		sc->cap = 0;
		return -ENOMEM;
	}
	return 0;
}

static void scratch_free(struct mixed_scratch *sc)
{
	free(sc->tab);
	free(sc->vid);
	free(sc->pos);
	free(sc->nv);
	free(sc->imgs);
	free(sc->key);
}

/*
 * A mixed content from its files (by image, in order): its variants in
 * order of appearance, and per image the first variant and the count of
 * each variant it has.
 */
static int add_mixed(struct model *m, struct mixed_scratch *sc,
		     const struct mfile *mf, u64 nf)
{
	u64 tcap, base = m->nr_mimg;
	u32 nvar = 0, run;
	int ret;

	ret = scratch_grow(sc, nf);
	if (ret)
		return ret;
	for (tcap = 16; tcap < nf * 2; tcap *= 2)
		;
	memset(sc->tab, 0, tcap * sizeof(*sc->tab));
	for (u64 k = 0; k < nf; k++) {
		u64 h = (mf[k].size * 0x9e3779b97f4a7c15ULL ^ mf[k].cls) >> 7;

		for (h &= tcap - 1; sc->tab[h]; h = (h + 1) & (tcap - 1)) {
			const u64 *kk = sc->key[sc->tab[h] - 1];

			if (kk[0] == mf[k].size && kk[1] == mf[k].cls)
				break;
		}
		if (!sc->tab[h]) {
			sc->key[nvar][0] = mf[k].size;
			sc->key[nvar][1] = mf[k].cls;
			sc->tab[h] = ++nvar;
		}
		sc->vid[k] = sc->tab[h] - 1;
	}
	if (m->nr_mixed + 2 > m->cap_mixed) {
		/* two arrays of one capacity: the second grows to the first's */
		u64 c = m->cap_mixed, c2 = m->cap_mixed;

		if (erofs_grow_array(&m->mixed_off, &c, m->nr_mixed + 2,
				     sizeof(u64)) ||
		    erofs_grow_array(&m->mixed_voff, &c2, c, sizeof(u64)))
			return -ENOMEM;
		m->cap_mixed = c;
	}
	ret = erofs_grow_array(&m->var_pages, &m->cap_var_pages,
		   m->nr_var_pages + nvar, sizeof(*m->var_pages));
	if (!ret)
		ret = erofs_grow_array(&m->mimg, &m->cap_mimg, m->nr_mimg + nf,
			   sizeof(*m->mimg));
	if (!ret)
		ret = erofs_grow_array(&m->pairs, &m->cap_pairs, m->nr_pairs + nf,
			   sizeof(*m->pairs));
	if (ret)
		return ret;
	m->mixed_off[m->nr_mixed] = base;
	m->mixed_voff[m->nr_mixed] = m->nr_var_pages;
	for (u32 v = 0; v < nvar; v++) {
		m->var_pages[m->nr_var_pages + v] = pages_of(m, sc->key[v][0]);
		sc->pos[v] = UINT32_MAX;
		sc->nv[v] = 0;
	}
	m->nr_var_pages += nvar;
	for (u64 k = 0; k < nf; k++) {
		struct mixed_img *e =
			m->nr_mimg > base ? &m->mimg[m->nr_mimg - 1] : NULL;
		u32 v = sc->vid[k];

		if (!e || e->img != mf[k].img) {
			/* forget the image before: its pairs are done */
			if (e)
				for (u64 q = e->pairs; q < m->nr_pairs; q++)
					sc->pos[m->pairs[q].var] = UINT32_MAX;
			e = &m->mimg[m->nr_mimg++];
			e->img = mf[k].img;
			e->first = v;
			e->pairs = m->nr_pairs;
		}
		if (sc->pos[v] == UINT32_MAX) {
			sc->pos[v] = m->nr_pairs - e->pairs;
			m->pairs[m->nr_pairs].var = v;
			m->pairs[m->nr_pairs++].count = 0;
			sc->nv[v]++;
		}
		m->pairs[e->pairs + sc->pos[v]].count++;
	}
	m->nr_mixed++;
	m->mixed_off[m->nr_mixed] = m->nr_mimg;
	/*
	 * Each variant is an atom of the images holding it, for grouping:
	 * nv[v] images have variant v, listed from pos[v] in imgs.
	 */
	run = 0;
	for (u32 v = 0; v < nvar; v++) {
		sc->pos[v] = run;
		run += sc->nv[v];
	}
	for (u64 e = base; e < m->nr_mimg; e++)
		for (u64 q = m->mimg[e].pairs; q < pairs_end(m, e); q++)
			sc->imgs[sc->pos[m->pairs[q].var]++] = m->mimg[e].img;
	run = 0;
	for (u32 v = 0; v < nvar && !ret; v++) {
		ret = add_atom(
			m, sc->imgs + run, sc->nv[v], false,
			m->var_pages[m->mixed_voff[m->nr_mixed - 1] + v]);
		run += sc->nv[v];
	}
	return ret;
}

/* Page cache of mixed content k on the images of "in" (exact, in order). */
static u64 mixed_bytes(const struct model *m, u64 k, const u8 *in)
{
	const u64 *vp = m->var_pages + m->mixed_voff[k];
	u64 bytes = 0;
	int64_t w = -1;

	for (u64 e = m->mixed_off[k]; e < m->mixed_off[k + 1]; e++) {
		const struct mixed_img *mi = &m->mimg[e];

		if (!in[mi->img])
			continue;
		if (w < 0) {
			w = mi->first;
			bytes += vp[w];
		}
		for (u64 q = mi->pairs; q < pairs_end(m, e); q++)
			if (m->pairs[q].var != w)
				bytes +=
					m->pairs[q].count * vp[m->pairs[q].var];
	}
	return bytes;
}

static void model_free(struct model *m)
{
	free(m->noshare);
	free(m->priv_files);
	free(m->priv_simple);
	free(m->priv_var);
	free(m->alone);
	free(m->atoms);
	free(m->pool);
	free(m->atab);
	free(m->img_off);
	free(m->img_atoms);
	free(m->mixed_off);
	free(m->mixed_voff);
	free(m->var_pages);
	free(m->mimg);
	free(m->pairs);
	memset(m, 0, sizeof(*m));
}

static void build_free(struct build *b)
{
	free(b->last);
	free(b->nimg);
	free(b->nfile);
	free(b->size);
	free(b->cls);
	free(b->off);
	free(b->list);
	free(b->mfiles);
}

static int model_build(const struct erofs_share *s,
		       const struct erofs_share_report *r, struct model *m)
{
	struct build b = { .m = m, .nr = erofs_share_nr_contents(s) };
	struct mixed_scratch sc = { 0 };
	unsigned int n = r->nr_images;
	u64 nl = 0, nm = 0, x;
	u8 *in = NULL;
	int ret = -ENOMEM;

	memset(m, 0, sizeof(*m));
	m->n = n;
	m->page_size = r->page_size;
	m->noshare = calloc(n, sizeof(u64));
	m->priv_files = calloc(n, sizeof(u64));
	m->priv_simple = calloc(n, sizeof(u64));
	m->priv_var = calloc(n, sizeof(u64));
	m->alone = calloc(n, sizeof(u64));
	m->img_off = calloc(n + 1, sizeof(u64));
	b.last = calloc(b.nr + 1, sizeof(u32));
	b.nimg = calloc(b.nr + 1, sizeof(u32));
	b.nfile = calloc(b.nr + 1, sizeof(u32));
	b.size = calloc(b.nr + 1, sizeof(u64));
	b.cls = calloc(b.nr + 1, 1);
	b.off = calloc(b.nr + 1, sizeof(u64));
	in = calloc(n ? n : 1, 1);
	if (!m->noshare || !m->priv_files || !m->priv_simple || !m->priv_var ||
	    !m->alone || !m->img_off || !b.last || !b.nimg || !b.nfile ||
	    !b.size || !b.cls || !b.off || !in)
		goto out;
	ret = erofs_share_foreach_file(s, pass1, &b);
	if (ret)
		goto out;
	for (x = 0; x < b.nr; x++) {
		if (b.cls[x] & 2) {
			b.off[x] = nm;
			nm += b.nfile[x];
		} else if (b.nimg[x] > 1) {
			b.off[x] = nl;
			nl += b.nimg[x];
		} else if (b.nimg[x] == 1) {
			m->priv_simple[b.last[x] - 1] += pages_of(m, b.size[x]);
		}
		b.last[x] = 0;
	}
	ret = -ENOMEM;
	b.list = malloc((nl ? nl : 1) * sizeof(*b.list));
	b.mfiles = malloc((nm ? nm : 1) * sizeof(*b.mfiles));
	if (!b.list || !b.mfiles)
		goto out;
	ret = erofs_share_foreach_file(s, pass2, &b);
	if (ret)
		goto out;
	/* off[x] now ends each list: the list starts nimg or nfile before */
	for (x = 0; x < b.nr && !ret; x++) {
		if (b.cls[x] & 2)
			ret = add_mixed(m, &sc,
					b.mfiles + b.off[x] - b.nfile[x],
					b.nfile[x]);
		else if (b.nimg[x] > 1)
			ret = add_atom(m, b.list + b.off[x] - b.nimg[x],
				       b.nimg[x], true, pages_of(m, b.size[x]));
	}
	if (ret)
		goto out;
	build_free(&b);
	memset(&b, 0, sizeof(b));

	/* each image's atoms */
	for (u64 a = 0; a < m->nr_atoms; a++)
		for (u32 k = 0; k < m->atoms[a].len; k++)
			m->img_off[m->pool[m->atoms[a].off + k] + 1]++;
	for (unsigned int i = 0; i < n; i++)
		m->img_off[i + 1] += m->img_off[i];
	ret = -ENOMEM;
	m->img_atoms = malloc((m->img_off[n] ? m->img_off[n] : 1) *
			      sizeof(*m->img_atoms));
	if (!m->img_atoms)
		goto out;
	{
		u64 *pos = malloc((n ? n : 1) * sizeof(*pos));

		if (!pos)
			goto out;
		memcpy(pos, m->img_off, n * sizeof(*pos));
		for (u64 a = 0; a < m->nr_atoms; a++)
			for (u32 k = 0; k < m->atoms[a].len; k++)
				m->img_atoms
					[pos[m->pool[m->atoms[a].off + k]]++] =
					a;
		free(pos);
	}
	/* alone, exact */
	for (unsigned int i = 0; i < n; i++)
		m->alone[i] = m->priv_files[i] + m->priv_simple[i];
	for (u64 a = 0; a < m->nr_atoms; a++)
		if (m->atoms[a].simple)
			for (u32 k = 0; k < m->atoms[a].len; k++)
				m->alone[m->pool[m->atoms[a].off + k]] +=
					m->atoms[a].pages;
	for (u64 k = 0; k < m->nr_mixed; k++) {
		for (u64 e = m->mixed_off[k]; e < m->mixed_off[k + 1]; e++) {
			u32 img = m->mimg[e].img;

			in[img] = 1;
			m->alone[img] += mixed_bytes(m, k, in);
			in[img] = 0;
		}
	}
	ret = 0;
out:
	build_free(&b);
	scratch_free(&sc);
	free(in);
	if (ret)
		model_free(m);
	return ret;
}

/* --- the matrix ------------------------------------------------------------
 */

int erofs_share_matrix_compute(const struct erofs_share *s,
			       const struct erofs_share_report *r,
			       struct erofs_share_matrix *mx)
{
	struct model m;
	unsigned int n = r->nr_images;
	u64 *sv;
	int ret;

	memset(mx, 0, sizeof(*mx));
	if (n > MATRIX_MAX_IMAGES)
		return erofs_fail(
			-E2BIG,
			"--matrix: %u images, at most %u (the matrix grows as the square)",
			n, MATRIX_MAX_IMAGES);
	ret = model_build(s, r, &m);
	if (ret)
		return ret;
	mx->n = n;
	mx->noshare_bytes = calloc(n ? n : 1, sizeof(u64));
	mx->alone_bytes = calloc(n ? n : 1, sizeof(u64));
	mx->saving_bytes = calloc(n ? (u64)n * n : 1, sizeof(u64));
	if (!mx->noshare_bytes || !mx->alone_bytes || !mx->saving_bytes) {
		model_free(&m);
		erofs_share_matrix_free(mx);
		return -ENOMEM;
	}
	sv = mx->saving_bytes;
	memcpy(mx->noshare_bytes, m.noshare, n * sizeof(u64));
	memcpy(mx->alone_bytes, m.alone, n * sizeof(u64));
	/* contents of one variant: each pair of their images holds one copy */
	for (u64 a = 0; a < m.nr_atoms; a++) {
		const struct atom *at = &m.atoms[a];
		const u32 *im = m.pool + at->off;

		if (!at->simple)
			continue;
		for (u32 x = 0; x < at->len; x++)
			for (u32 y = x + 1; y < at->len; y++)
				sv[(u64)im[x] * n + im[y]] += at->pages;
	}
	/*
	 * Mixed contents: with i read first, the copy takes i's first
	 * variant; j's files of it join, j's others stay apart.
	 */
	for (u64 k = 0; k < m.nr_mixed; k++) {
		const u64 *vp = m.var_pages + m.mixed_voff[k];

		for (u64 e = m.mixed_off[k]; e < m.mixed_off[k + 1]; e++) {
			const struct mixed_img *a = &m.mimg[e];

			for (u64 f = e + 1; f < m.mixed_off[k + 1]; f++) {
				const struct mixed_img *b = &m.mimg[f];
				u64 *cell = &sv[(u64)a->img * n + b->img];

				if (a->first == b->first) {
					*cell += vp[b->first];
					continue;
				}
				/* may be negative: kept modulo 2^64 */
				*cell += count_of(&m, f, a->first) *
					 vp[a->first];
				*cell -= (count_of(&m, f, b->first) - 1) *
					 vp[b->first];
			}
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int j = i + 1; j < n; j++) {
			u64 v = sv[(u64)i * n + j] +
				(m.noshare[i] - m.alone[i]) +
				(m.noshare[j] - m.alone[j]);

			sv[(u64)i * n + j] = v;
			sv[(u64)j * n + i] = v;
		}
	}
	model_free(&m);
	return 0;
}

void erofs_share_matrix_free(struct erofs_share_matrix *mx)
{
	free(mx->noshare_bytes);
	free(mx->alone_bytes);
	free(mx->saving_bytes);
	memset(mx, 0, sizeof(*mx));
}

/* --- grouping --------------------------------------------------------------
 */

struct gstate {
	const struct model *m;
	const u64 *priv; /* per image: what it holds whatever its node */
	unsigned int n;
	unsigned int nn;  /* nodes that may hold images */
	unsigned int cap; /* images per node */
	u64 budget;	  /* 0: none */
	unsigned int *node_of, *count;
	u64 *mem;
	u32 **cnt; /* per node, per atom: its images on the node */
	u64 nr_atoms;
	u64 work; /* contents looked at, against WORK_LIMIT */
};

static bool worn_out(const struct gstate *g)
{
	return g->work > WORK_LIMIT;
}

static u64 add_cost(struct gstate *g, u32 i, unsigned int k)
{
	const struct model *m = g->m;
	const u32 *c = g->cnt[k];
	u64 cost = g->priv[i];

	g->work += m->img_off[i + 1] - m->img_off[i];
	for (u64 e = m->img_off[i]; e < m->img_off[i + 1]; e++)
		if (!c[m->img_atoms[e]])
			cost += m->atoms[m->img_atoms[e]].pages;
	return cost;
}

static void place(struct gstate *g, u32 i, unsigned int k)
{
	const struct model *m = g->m;
	u32 *c = g->cnt[k];

	g->work += m->img_off[i + 1] - m->img_off[i];
	g->mem[k] += g->priv[i];
	for (u64 e = m->img_off[i]; e < m->img_off[i + 1]; e++)
		if (!c[m->img_atoms[e]]++)
			g->mem[k] += m->atoms[m->img_atoms[e]].pages;
	g->node_of[i] = k;
	g->count[k]++;
}

static void unplace(struct gstate *g, u32 i)
{
	const struct model *m = g->m;
	unsigned int k = g->node_of[i];
	u32 *c = g->cnt[k];

	g->mem[k] -= g->priv[i];
	for (u64 e = m->img_off[i]; e < m->img_off[i + 1]; e++)
		if (!--c[m->img_atoms[e]])
			g->mem[k] -= m->atoms[m->img_atoms[e]].pages;
	g->count[k]--;
}

static u64 remove_gain(struct gstate *g, u32 i)
{
	const struct model *m = g->m;
	const u32 *c = g->cnt[g->node_of[i]];
	u64 gain = g->priv[i];

	g->work += m->img_off[i + 1] - m->img_off[i];
	for (u64 e = m->img_off[i]; e < m->img_off[i + 1]; e++)
		if (c[m->img_atoms[e]] == 1)
			gain += m->atoms[m->img_atoms[e]].pages;
	return gain;
}

static int node_row(struct gstate *g, unsigned int k)
{
	if (g->cnt[k])
		return 0;
	g->cnt[k] = calloc(g->nr_atoms ? g->nr_atoms : 1, sizeof(u32));
	return g->cnt[k] ? 0 : -ENOMEM;
}

static bool fits(const struct gstate *g, unsigned int k, u64 cost)
{
	return g->count[k] < g->cap &&
	       (!g->budget || g->mem[k] + cost <= g->budget);
}

static void clear(struct gstate *g)
{
	for (unsigned int k = 0; k < g->nn; k++) {
		if (g->cnt[k])
			memset(g->cnt[k], 0,
			       (g->nr_atoms ? g->nr_atoms : 1) * sizeof(u32));
		g->count[k] = 0;
		g->mem[k] = 0;
	}
}

/* Nodes in use; with a budget the used nodes are 0 .. used - 1. */
static unsigned int used_nodes(const struct gstate *g)
{
	unsigned int u = 0;

	for (unsigned int k = 0; k < g->nn; k++)
		u += !!g->count[k];
	return u;
}

static u64 total(const struct gstate *g)
{
	u64 t = 0;

	for (unsigned int k = 0; k < g->nn; k++)
		t += g->mem[k];
	return t;
}

/* Each image in "order" onto the node it adds least to, where it fits. */
static int construct(struct gstate *g, const u32 *order)
{
	clear(g);
	for (unsigned int o = 0; o < g->n; o++) {
		u32 i = order[o];
		unsigned int best = g->nn;
		u64 best_cost = UINT64_MAX;
		bool empty_seen = false;
		int ret;

		for (unsigned int k = 0; k < g->nn; k++) {
			u64 c;

			if (!g->cnt[k]) /* unopened (budget): the next is */
				break;
			/* empty nodes are all alike: the first stands for all
			 */
			if (!g->count[k] && (g->budget || empty_seen))
				continue;
			empty_seen |= !g->count[k];
			c = add_cost(g, i, k);
			if (fits(g, k, c) && c < best_cost) {
				best_cost = c;
				best = k;
			}
		}
		if (best == g->nn) {
			/* a new node (budget), or the first empty one */
			for (best = 0; best < g->nn && g->count[best]; best++)
				;
			if (best == g->nn)
				return -ERANGE; /* cannot happen: nn >= n */
			ret = node_row(g, best);
			if (ret)
				return ret;
		}
		place(g, i, best);
	}
	return 0;
}

/* Move or swap single images while that saves page cache. */
static void improve(struct gstate *g)
{
	bool swaps = g->n <= SWAP_MAX_IMAGES;

	for (int pass = 0; pass < MAX_PASSES; pass++) {
		bool improved = false;

		for (u32 i = 0; i < g->n; i++) {
			unsigned int a, best = g->nn;
			u64 gain, best_saving = 0;
			bool empty_seen = false;

			if (worn_out(g))
				return;
			a = g->node_of[i];
			gain = remove_gain(g, i);
			for (unsigned int k = 0; k < g->nn; k++) {
				u64 c;

				if (k == a || !g->cnt[k] ||
				    (!g->count[k] && (g->budget || empty_seen)))
					continue;
				empty_seen |= !g->count[k];
				c = add_cost(g, i, k);
				if (c < gain && gain - c > best_saving &&
				    fits(g, k, c)) {
					best_saving = gain - c;
					best = k;
				}
			}
			if (best < g->nn) {
				unplace(g, i);
				place(g, i, best);
				improved = true;
				continue;
			}
			if (!swaps)
				continue;
			for (u32 j = i + 1; j < g->n; j++) {
				unsigned int b = g->node_of[j];
				u64 before, after;

				if (b == a)
					continue;
				before = g->mem[a] + g->mem[b];
				unplace(g, i);
				unplace(g, j);
				place(g, i, b);
				place(g, j, a);
				after = g->mem[a] + g->mem[b];
				if (after < before &&
				    (!g->budget || (g->mem[a] <= g->budget &&
						    g->mem[b] <= g->budget))) {
					improved = true;
					a = g->node_of[i];
					continue;
				}
				unplace(g, i);
				unplace(g, j);
				place(g, i, a);
				place(g, j, b);
			}
		}
		if (!improved)
			break;
	}
}

/* With a budget: move all images of a node onto the others, if they fit. */
static bool empty_node(struct gstate *g, unsigned int e, u32 *moved)
{
	unsigned int nm = 0;

	for (u32 i = 0; i < g->n; i++) {
		unsigned int best = g->nn;
		u64 best_cost = UINT64_MAX;

		if (g->node_of[i] != e)
			continue;
		for (unsigned int k = 0; k < g->nn; k++) {
			u64 c;

			if (k == e || !g->count[k])
				continue;
			c = add_cost(g, i, k);
			if (c < best_cost && fits(g, k, c)) {
				best_cost = c;
				best = k;
			}
		}
		if (best == g->nn) {
			/* put them back */
			while (nm--) {
				unplace(g, moved[nm]);
				place(g, moved[nm], e);
			}
			return false;
		}
		unplace(g, i);
		place(g, i, best);
		moved[nm++] = i;
	}
	return true;
}

static void empty_nodes(struct gstate *g, u32 *scratch)
{
	bool again = true;

	while (again && !worn_out(g)) {
		again = false;
		/* the emptiest first */
		for (unsigned int want = 1; want <= g->n && !again; want++)
			for (unsigned int k = 0; k < g->nn && !again; k++)
				if (g->count[k] == want &&
				    empty_node(g, k, scratch)) {
					again = true;
					improve(g);
				}
	}
}

static bool better(const struct gstate *g, unsigned int nodes, u64 bytes,
		   unsigned int best_nodes, u64 best_bytes)
{
	if (g->budget && nodes != best_nodes)
		return nodes < best_nodes;
	return bytes < best_bytes;
}

static u64 next_random(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Per image, what the grouping counts for it alone: its sort key. */
static u64 alone_model(const struct model *m, const u64 *priv, u32 i)
{
	u64 b = priv[i];

	for (u64 e = m->img_off[i]; e < m->img_off[i + 1]; e++)
		b += m->atoms[m->img_atoms[e]].pages;
	return b;
}

static const u64 *sort_keys;

static int by_key_desc(const void *a, const void *b)
{
	u64 x = sort_keys[*(const u32 *)a], y = sort_keys[*(const u32 *)b];

	if (x != y)
		return x < y ? 1 : -1;
	return *(const u32 *)a < *(const u32 *)b ? -1 : 1;
}

static int check_opts(const struct erofs_share_opts *o, unsigned int n)
{
	if (!o->nodes == !o->node_memory)
		return erofs_fail(
			-EINVAL,
			"grouping needs either a number of nodes or a memory budget per node");
	if (!n)
		return erofs_fail(-EINVAL, "no images to group");
	return 0;
}

/* The figures of a grouping given node_of, nodes renumbered in order. */
static int fill_grouping(const struct model *m, const u64 *priv,
			 const struct erofs_share_opts *o, const u32 *node_of,
			 struct erofs_share_grouping *gr)
{
	unsigned int n = m->n, *renum;
	u8 *in;
	u64 all = 0;
	int ret = -ENOMEM;

	renum = malloc(n * sizeof(*renum));
	in = calloc(n, 1);
	gr->node_of = malloc(n * sizeof(*gr->node_of));
	gr->node_bytes = calloc(n, sizeof(u64));
	gr->node_exact_bytes = calloc(n, sizeof(u64));
	gr->node_noshare_bytes = calloc(n, sizeof(u64));
	if (!renum || !in || !gr->node_of || !gr->node_bytes ||
	    !gr->node_exact_bytes || !gr->node_noshare_bytes)
		goto out;
	gr->nr_images = n;
	for (unsigned int i = 0; i < n; i++)
		renum[i] = UINT32_MAX;
	gr->nr_nodes = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (renum[node_of[i]] == UINT32_MAX)
			renum[node_of[i]] = gr->nr_nodes++;
		gr->node_of[i] = renum[node_of[i]];
	}
	for (unsigned int k = 0; k < gr->nr_nodes; k++) {
		u64 b = 0, x = 0, ns = 0;

		for (unsigned int i = 0; i < n; i++) {
			in[i] = gr->node_of[i] == k;
			if (in[i]) {
				b += priv[i];
				x += m->priv_files[i] + m->priv_simple[i];
				ns += m->noshare[i];
			}
		}
		for (u64 a = 0; a < m->nr_atoms; a++) {
			const struct atom *at = &m->atoms[a];

			for (u32 j = 0; j < at->len; j++) {
				if (in[m->pool[at->off + j]]) {
					b += at->pages;
					x += at->simple ? at->pages : 0;
					break;
				}
			}
		}
		for (u64 c = 0; c < m->nr_mixed; c++)
			x += mixed_bytes(m, c, in);
		gr->node_bytes[k] = b;
		gr->node_exact_bytes[k] = x;
		gr->node_noshare_bytes[k] = ns;
		gr->total_bytes += b;
		gr->total_exact_bytes += x;
	}
	for (unsigned int i = 0; i < n; i++) {
		all += priv[i];
		gr->apart_bytes += alone_model(m, priv, i);
		if (o->node_memory && alone_model(m, priv, i) > o->node_memory)
			gr->over_budget++;
	}
	for (u64 a = 0; a < m->nr_atoms; a++)
		all += m->atoms[a].pages;
	gr->together_bytes = all;
	gr->node_memory = o->node_memory;
	if (o->nodes) {
		gr->per_node = (n + o->nodes - 1) / o->nodes;
		gr->bound_bytes = 0;
		for (unsigned int i = 0; i < n; i++)
			gr->bound_bytes += priv[i];
		for (u64 a = 0; a < m->nr_atoms; a++)
			gr->bound_bytes +=
				m->atoms[a].pages *
				((m->atoms[a].len + gr->per_node - 1) /
				 gr->per_node);
		gr->bound_nodes = o->nodes < n ? o->nodes : n;
	} else {
		/*
		 * Images larger than the budget alone take a node each; the
		 * others' contents, each once, need nodes of the budget.
		 */
		u64 rest = 0;

		for (unsigned int i = 0; i < n; i++) {
			in[i] = alone_model(m, priv, i) <= o->node_memory;
			rest += in[i] ? priv[i] : 0;
		}
		for (u64 a = 0; a < m->nr_atoms; a++)
			for (u32 j = 0; j < m->atoms[a].len; j++)
				if (in[m->pool[m->atoms[a].off + j]]) {
					rest += m->atoms[a].pages;
					break;
				}
		gr->per_node = n;
		gr->bound_bytes = all;
		gr->bound_nodes = gr->over_budget + rest / o->node_memory +
				  !!(rest % o->node_memory);
		if (!gr->bound_nodes)
			gr->bound_nodes = 1;
	}
	ret = 0;
out:
	free(renum);
	free(in);
	return ret;
}

static u64 *priv_of(const struct model *m)
{
	u64 *priv = malloc((m->n ? m->n : 1) * sizeof(u64));

	if (priv)
		for (unsigned int i = 0; i < m->n; i++)
			priv[i] = m->priv_files[i] + m->priv_simple[i] +
				  m->priv_var[i];
	return priv;
}

int erofs_share_group(const struct erofs_share *s,
		      const struct erofs_share_report *r,
		      const struct erofs_share_opts *o,
		      struct erofs_share_grouping *gr)
{
	struct gstate g = { 0 };
	struct model m;
	unsigned int n = r->nr_images, restarts, best_nodes = UINT32_MAX;
	u64 best_bytes = UINT64_MAX, *keys = NULL, seed = 0x9e3779b97f4a7c15ULL;
	u32 *order = NULL, *best = NULL, *scratch = NULL;
	int ret;

	memset(gr, 0, sizeof(*gr));
	ret = check_opts(o, n);
	if (ret)
		return ret;
	ret = model_build(s, r, &m);
	if (ret)
		return ret;
	ret = -ENOMEM;
	g.m = &m;
	g.n = n;
	g.nr_atoms = m.nr_atoms;
	g.budget = o->node_memory;
	g.nn = o->nodes ? (o->nodes < n ? o->nodes : n) : n;
	/* a count per node and shared content: say so before running out */
	if ((u64)g.nn * (m.nr_atoms + 1) > (1ULL << 30)) {
		ret = erofs_fail(
			-E2BIG,
			"grouping %u images onto up to %u nodes needs a count for each of %llu shared contents on each node: too many",
			n, g.nn, (unsigned long long)m.nr_atoms);
		goto out;
	}
	g.cap = o->nodes ? (n + o->nodes - 1) / o->nodes : n;
	g.priv = priv_of(&m);
	g.node_of = calloc(n, sizeof(*g.node_of));
	g.count = calloc(g.nn, sizeof(*g.count));
	g.mem = calloc(g.nn, sizeof(*g.mem));
	g.cnt = calloc(g.nn, sizeof(*g.cnt));
	order = malloc(n * sizeof(*order));
	best = malloc(n * sizeof(*best));
	scratch = malloc(n * sizeof(*scratch));
	keys = malloc(n * sizeof(*keys));
	if (!g.priv || !g.node_of || !g.count || !g.mem || !g.cnt || !order ||
	    !best || !scratch || !keys)
		goto out;
	/* without a budget every node may hold images from the start */
	for (unsigned int k = 0; k < (g.budget ? 1 : g.nn); k++) {
		ret = node_row(&g, k);
		if (ret)
			goto out;
	}
	for (u32 i = 0; i < n; i++) {
		order[i] = i;
		keys[i] = alone_model(&m, g.priv, i);
	}
	sort_keys = keys;
	qsort(order, n, sizeof(*order), by_key_desc);
	restarts = n <= 12 ? 64 : n <= 50 ? 16 : n <= SWAP_MAX_IMAGES ? 4 : 1;
	for (unsigned int t = 0; t < restarts; t++) {
		unsigned int nodes;
		u64 bytes;

		if (t) { /* another starting order */
			for (u32 i = n - 1; i > 0; i--) {
				u32 j = next_random(&seed) % (i + 1), x;

				x = order[i];
				order[i] = order[j];
				order[j] = x;
			}
		}
		ret = construct(&g, order);
		if (ret)
			goto out;
		improve(&g);
		if (g.budget)
			empty_nodes(&g, scratch);
		nodes = used_nodes(&g);
		bytes = total(&g);
		if (better(&g, nodes, bytes, best_nodes, best_bytes)) {
			best_nodes = nodes;
			best_bytes = bytes;
			memcpy(best, g.node_of, n * sizeof(*best));
		}
		if (worn_out(&g))
			break;
	}
	ret = fill_grouping(&m, g.priv, o, best, gr);
	gr->cut_short = worn_out(&g);
out:
	if (g.cnt)
		for (unsigned int k = 0; k < g.nn; k++)
			free(g.cnt[k]);
	free(g.cnt);
	free((void *)g.priv);
	free(g.node_of);
	free(g.count);
	free(g.mem);
	free(order);
	free(best);
	free(scratch);
	free(keys);
	model_free(&m);
	if (ret)
		erofs_share_grouping_free(gr);
	return ret;
}

void erofs_share_grouping_free(struct erofs_share_grouping *gr)
{
	free(gr->node_of);
	free(gr->node_bytes);
	free(gr->node_exact_bytes);
	free(gr->node_noshare_bytes);
	memset(gr, 0, sizeof(*gr));
}

/* --- exhaustive, for checking ----------------------------------------------
 */

struct exh {
	unsigned int n, maxb, cap;
	u64 budget;
	const u64 *mem; /* per subset mask */
	u32 blocks[16];
	unsigned int nb;
	u32 assign[16], best_assign[16];
	unsigned int best_nodes;
	u64 best_bytes;
	bool found;
};

static bool block_ok(const struct exh *x, u32 mask)
{
	if ((unsigned int)__builtin_popcount(mask) > x->cap)
		return false;
	return !x->budget || x->mem[mask] <= x->budget ||
	       __builtin_popcount(mask) == 1;
}

static void exh_rec(struct exh *x, unsigned int i)
{
	if (i == x->n) {
		u64 bytes = 0;

		for (unsigned int b = 0; b < x->nb; b++) {
			if (!block_ok(x, x->blocks[b]))
				return;
			bytes += x->mem[x->blocks[b]];
		}
		if (!x->found || (x->budget && x->nb != x->best_nodes
					  ? x->nb < x->best_nodes
					  : bytes < x->best_bytes)) {
			x->found = true;
			x->best_nodes = x->nb;
			x->best_bytes = bytes;
			memcpy(x->best_assign, x->assign, sizeof(x->assign));
		}
		return;
	}
	for (unsigned int b = 0; b <= x->nb && b < x->maxb; b++) {
		bool fresh = b == x->nb;

		if (!fresh &&
		    (unsigned int)__builtin_popcount(x->blocks[b]) >= x->cap)
			continue;
		if (fresh)
			x->blocks[x->nb++] = 0;
		x->blocks[b] |= 1U << i;
		x->assign[i] = b;
		exh_rec(x, i + 1);
		x->blocks[b] &= ~(1U << i);
		if (fresh)
			x->nb--;
	}
}

int erofs_share_group_exhaustive(const struct erofs_share *s,
				 const struct erofs_share_report *r,
				 const struct erofs_share_opts *o,
				 struct erofs_share_grouping *gr)
{
	struct exh x = { 0 };
	struct model m;
	unsigned int n = r->nr_images;
	u64 *mem = NULL, *priv = NULL;
	int ret;

	memset(gr, 0, sizeof(*gr));
	if (n > 12)
		return -E2BIG;
	ret = check_opts(o, n);
	if (ret)
		return ret;
	ret = model_build(s, r, &m);
	if (ret)
		return ret;
	ret = -ENOMEM;
	priv = priv_of(&m);
	mem = calloc(1U << n, sizeof(*mem));
	if (!priv || !mem)
		goto out;
	for (u32 mask = 1; mask < 1U << n; mask++) {
		for (unsigned int i = 0; i < n; i++)
			if (mask & (1U << i))
				mem[mask] += priv[i];
		for (u64 a = 0; a < m.nr_atoms; a++)
			for (u32 j = 0; j < m.atoms[a].len; j++)
				if (mask & (1U << m.pool[m.atoms[a].off + j])) {
					mem[mask] += m.atoms[a].pages;
					break;
				}
	}
	x.n = n;
	x.mem = mem;
	x.budget = o->node_memory;
	x.maxb = o->nodes ? o->nodes : n;
	x.cap = o->nodes ? (n + o->nodes - 1) / o->nodes : n;
	exh_rec(&x, 0);
	ret = fill_grouping(&m, priv, o, x.best_assign, gr);
out:
	free(mem);
	free(priv);
	model_free(&m);
	if (ret)
		erofs_share_grouping_free(gr);
	return ret;
}

/* --- printing --------------------------------------------------------------
 */

static double mib(u64 bytes)
{
	return bytes / 1048576.0;
}

static double pct(u64 part, u64 whole)
{
	return whole ? 100.0 * part / whole : 0;
}

static void print_name(FILE *out, const char *name)
{
	erofs_fputs_escaped(name, strlen(name), out);
}

static void print_header(FILE *out, unsigned int n)
{
	char col[16];

	for (unsigned int j = 0; j < n; j++) {
		snprintf(col, sizeof(col), "[%u]", j);
		fprintf(out, " %7s", col);
	}
	fputc('\n', out);
}

static void print_matrix(const struct erofs_share_report *r,
			 const struct erofs_share_matrix *mx, FILE *out)
{
	unsigned int n = mx->n;
	char col[16];

	fprintf(out,
		"\nSaving of each pair mounted together, MiB (the image given first read first):\n%6s",
		"");
	print_header(out, n);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(col, sizeof(col), "[%u]", i);
		fprintf(out, "%-6s", col);
		for (unsigned int j = 0; j < n; j++) {
			if (i == j)
				fprintf(out, " %7s", "-");
			else
				fprintf(out, " %7.1f",
					mib(mx->saving_bytes[(u64)i * n + j]));
		}
		fputc('\n', out);
	}
	fprintf(out,
		"\nSaving of each pair, %% of the two images' page cache without sharing:\n%6s",
		"");
	print_header(out, n);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(col, sizeof(col), "[%u]", i);
		fprintf(out, "%-6s", col);
		for (unsigned int j = 0; j < n; j++) {
			if (i == j)
				fprintf(out, " %7s", "-");
			else
				fprintf(out, " %6.1f%%",
					pct(mx->saving_bytes[(u64)i * n + j],
					    mx->noshare_bytes[i] +
						    mx->noshare_bytes[j]));
		}
		fputc('\n', out);
	}
	(void)r;
}

static void print_grouping(const struct erofs_share_report *r,
			   const struct erofs_share_grouping *g, FILE *out)
{
	if (g->node_memory)
		fprintf(out,
			"\nGrouping onto nodes of at most %.1f MiB of page cache each, fewest nodes first:\n",
			mib(g->node_memory));
	else
		fprintf(out,
			"\nGrouping onto %u nodes of at most %u images each:\n",
			g->bound_nodes, g->per_node);
	for (unsigned int k = 0; k < g->nr_nodes; k++) {
		unsigned int c = 0;

		for (unsigned int i = 0; i < g->nr_images; i++)
			c += g->node_of[i] == k;
		fprintf(out,
			"  node %u: %u images, page cache %.1f MiB (%.1f MiB without sharing)",
			k + 1, c, mib(g->node_bytes[k]),
			mib(g->node_noshare_bytes[k]));
		if (g->node_exact_bytes[k] != g->node_bytes[k])
			fprintf(out, "; %.1f MiB read in the order given",
				mib(g->node_exact_bytes[k]));
		fputc('\n', out);
		for (unsigned int i = 0; i < g->nr_images; i++) {
			if (g->node_of[i] != k)
				continue;
			fprintf(out, "    [%u] ", i);
			print_name(out, r->images[i].name);
			fputc('\n', out);
		}
	}
	fprintf(out, "  all nodes: %.1f MiB of page cache",
		mib(g->total_bytes));
	if (g->total_exact_bytes != g->total_bytes)
		fprintf(out,
			" (%.1f MiB with the images read in the order given)",
			mib(g->total_exact_bytes));
	fprintf(out,
		"\n  each image on a node of its own: %.1f MiB; all on one node: %.1f MiB\n",
		mib(g->apart_bytes), mib(g->together_bytes));
	if (g->node_memory) {
		fprintf(out, "  nodes: %u; no grouping needs fewer than %u\n",
			g->nr_nodes, g->bound_nodes);
		if (g->over_budget)
			fprintf(out,
				"  %u images need more than that alone: each has a node of its own\n",
				g->over_budget);
	}
	if (g->cut_short)
		fprintf(out,
			"  the search stopped at its work limit: a longer one might do better\n");
	fprintf(out,
		"  no grouping needs less than %.1f MiB: this one is at most %.2f%% above the best\n",
		mib(g->bound_bytes),
		pct(g->total_bytes - g->bound_bytes, g->bound_bytes));
}

#define J(key, v) fprintf(out, "\"%s\":%llu", key, (unsigned long long)(v))

static void print_grouping_json(const struct erofs_share_grouping *g, FILE *out)
{
	fputs("\"grouping\":{", out);
	if (g->node_memory)
		fputs("\"nodes\":null,", out);
	else
		fprintf(out, "\"nodes\":%u,", g->bound_nodes);
	J("per_node", g->per_node);
	if (g->node_memory) {
		fputc(',', out);
		J("node_memory", g->node_memory);
	} else {
		fputs(",\"node_memory\":null", out);
	}
	fputc(',', out);
	J("nodes_used", g->nr_nodes);
	fputc(',', out);
	J("bound_nodes", g->bound_nodes);
	fputc(',', out);
	J("total_bytes", g->total_bytes);
	fputc(',', out);
	J("exact_bytes", g->total_exact_bytes);
	fputc(',', out);
	J("bound_bytes", g->bound_bytes);
	fputc(',', out);
	J("gap_bytes", g->total_bytes - g->bound_bytes);
	fprintf(out, ",\"gap_percent\":%.4f,",
		pct(g->total_bytes - g->bound_bytes, g->bound_bytes));
	J("apart_bytes", g->apart_bytes);
	fputc(',', out);
	J("together_bytes", g->together_bytes);
	fputc(',', out);
	J("over_budget", g->over_budget);
	fprintf(out, ",\"cut_short\":%s", g->cut_short ? "true" : "false");
	fputs(",\"sets\":[", out);
	for (unsigned int k = 0; k < g->nr_nodes; k++) {
		bool first = true;

		fputs(k ? ",{\"images\":[" : "{\"images\":[", out);
		for (unsigned int i = 0; i < g->nr_images; i++) {
			if (g->node_of[i] != k)
				continue;
			fprintf(out, first ? "%u" : ",%u", i);
			first = false;
		}
		fputs("],", out);
		J("bytes", g->node_bytes[k]);
		fputc(',', out);
		J("exact_bytes", g->node_exact_bytes[k]);
		fputc(',', out);
		J("noshare_bytes", g->node_noshare_bytes[k]);
		fputc('}', out);
	}
	fputs("]}", out);
}

int erofs_share_print_sets(const struct erofs_share *s,
			   const struct erofs_share_report *r,
			   const struct erofs_share_opts *o, bool json,
			   FILE *out)
{
	struct erofs_share_matrix mx = { 0 };
	struct erofs_share_grouping g = { 0 };
	bool grouping = o->nodes || o->node_memory;
	unsigned int n = r->nr_images;
	int ret;

	if (o->matrix) {
		ret = erofs_share_matrix_compute(s, r, &mx);
		if (ret)
			return ret;
	}
	if (grouping) {
		ret = erofs_share_group(s, r, o, &g);
		if (ret) {
			erofs_share_matrix_free(&mx);
			return ret;
		}
	}
	if (json) {
		fputc('{', out);
		J("page_size", r->page_size);
		fputs(",\"mount_options\":\"inode_share,domain_id=NAME (one domain_id for all)\",",
		      out);
		J("noshare_bytes", r->noshare_bytes);
		fputc(',', out);
		J("shared_bytes", r->shared_bytes);
		fputc(',', out);
		J("saving_bytes", r->saving_bytes);
		fputs(",\"images\":[", out);
		for (unsigned int i = 0; i < n; i++) {
			fputs(i ? ",{\"name\":" : "{\"name\":", out);
			erofs_json_str(out, r->images[i].name);
			fputc(',', out);
			J("noshare_bytes", r->images[i].page_bytes);
			if (o->matrix) {
				fputc(',', out);
				J("alone_bytes", mx.alone_bytes[i]);
			}
			fputc('}', out);
		}
		fputc(']', out);
		if (o->matrix) {
			fputs(",\"matrix\":{\"saving_bytes\":[", out);
			for (unsigned int i = 0; i < n; i++) {
				fputs(i ? ",[" : "[", out);
				for (unsigned int j = 0; j < n; j++)
					fprintf(out, j ? ",%llu" : "%llu",
						(unsigned long long)
							mx.saving_bytes
								[(u64)i * n +
								 j]);
				fputc(']', out);
			}
			fputs("],\"saving_percent\":[", out);
			for (unsigned int i = 0; i < n; i++) {
				fputs(i ? ",[" : "[", out);
				for (unsigned int j = 0; j < n; j++)
					fprintf(out, j ? ",%.4f" : "%.4f",
						i == j ? 0
						       : pct(mx.saving_bytes
								     [(u64)i *
									      n +
								      j],
							     mx.noshare_bytes[i] +
								     mx.noshare_bytes
									     [j]));
				fputc(']', out);
			}
			fputs("]}", out);
		}
		if (grouping) {
			fputc(',', out);
			print_grouping_json(&g, out);
		}
		fputs("}\n", out);
	} else {
		fprintf(out,
			"Page cache sharing between %u images (%u-byte pages), mounted with\n"
			"inode_share and one domain_id (mount -o inode_share,domain_id=NAME):\n",
			n, r->page_size);
		for (unsigned int i = 0; i < n; i++) {
			fprintf(out, "[%u] ", i);
			print_name(out, r->images[i].name);
			fprintf(out, ": %.1f MiB without sharing",
				mib(r->images[i].page_bytes));
			if (o->matrix)
				fprintf(out, ", %.1f MiB alone with sharing",
					mib(mx.alone_bytes[i]));
			fputc('\n', out);
		}
		fprintf(out,
			"All on one node: %.1f MiB without sharing, %.1f MiB with (saving %.2f%%)\n",
			mib(r->noshare_bytes), mib(r->shared_bytes),
			r->saving_percent);
		if (o->matrix)
			print_matrix(r, &mx, out);
		if (grouping)
			print_grouping(r, &g, out);
	}
	erofs_share_matrix_free(&mx);
	erofs_share_grouping_free(&g);
	return 0;
}
