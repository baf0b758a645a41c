/*
 * test_verify_range.c
 *		Unit tests of verify's key-range descent and row diffs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/str.h"
#include "verify/verify_range.h"

/* Differences collected by the callback, as "M:key", "E:key", "C:key". */
typedef struct seen
{
	int			n;
	char	   *lines[64];
	int			ncols;
} seen;

static void
collect_key(seen *s, vrange_diffkind kind, char *const *key)
{
	strbuf		sb = STRBUF_INIT;
	const char *tag = kind == VRANGE_MISSING ? "M" :
		kind == VRANGE_EXTRA ? "E" : "C";

	strbuf_adds(&sb, tag);
	for (int i = 0; i < s->ncols; i++)
		strbuf_addf(&sb, ":%s", key[i]);
	s->lines[s->n++] = strbuf_detach(&sb);
}

static void
collect(void *arg, vrange_diffkind kind, const vrange_row *row)
{
	collect_key(arg, kind, row->key);
}

static void
seen_free(seen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->lines[i]);
}

/* Rows with a one-column key; keys and hashes point at string literals. */
static vrange_row *
rows1(int n, const char *const *keys, const char *const *hashes)
{
	vrange_row *rows = xcalloc((size_t) (n > 0 ? n : 1), sizeof(vrange_row));

	for (int i = 0; i < n; i++)
	{
		rows[i].key = xcalloc(1, sizeof(char *));
		rows[i].key[0] = (char *) keys[i];
		rows[i].hash = (char *) hashes[i];
	}
	return rows;
}

static void
rows_free(vrange_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		free(rows[i].key);
	free(rows);
}

static void
test_next_fetches_small_ranges(void **state)
{
	vrange_params p = VRANGE_PARAMS_INIT;
	vrange		r = {NULL, NULL, 1000, 999, 0};
	int64_t		step;
	bool		from_target;

	(void) state;
	assert_int_equal(vrange_next(&r, &p, &step, &from_target), VRANGE_FETCH);
	r.ntgt = 1001;
	assert_int_equal(vrange_next(&r, &p, &step, &from_target), VRANGE_SPLIT);
	assert_true(from_target);
	assert_int_equal(step, (1001 + 31) / 32);
	/* Too deep: fetch whatever the size. */
	r.depth = p.max_depth;
	assert_int_equal(vrange_next(&r, &p, &step, &from_target), VRANGE_FETCH);
}

static void
test_next_samples_the_larger_side(void **state)
{
	vrange_params p = {10, 4, 8};
	vrange		r = {NULL, NULL, 100, 3, 2};
	int64_t		step;
	bool		from_target;

	(void) state;
	assert_int_equal(vrange_next(&r, &p, &step, &from_target), VRANGE_SPLIT);
	assert_false(from_target);
	assert_int_equal(step, 25);
}

static void
test_children_keep_only_differing_ranges(void **state)
{
	char	   *b1[] = {"10"};
	char	   *b2[] = {"20"};
	char	   *b3[] = {"30"};
	char	  **bounds[] = {b1, b2, b3};
	vrange_sum	src[] = {{5, "100"}, {5, "200"}, {5, "300"}, {5, "400"}};
	vrange_sum	tgt[] = {{5, "100"}, {4, "150"}, {5, "301"}, {5, "400"}};
	vrange	   *root = vrange_root(20, 19);
	vrange	  **kids;
	int			n;

	(void) state;
	n = vrange_children(root, 1, bounds, 3, src, tgt, &kids);
	assert_int_equal(n, 2);
	/* [10, 20) lost a row, [20, 30) changed one. */
	assert_string_equal(kids[0]->lo[0], "10");
	assert_string_equal(kids[0]->hi[0], "20");
	assert_int_equal(kids[0]->nsrc, 5);
	assert_int_equal(kids[0]->ntgt, 4);
	assert_int_equal(kids[0]->depth, 1);
	assert_string_equal(kids[1]->lo[0], "20");
	assert_string_equal(kids[1]->hi[0], "30");
	vrange_free_array(kids, n, 1);
	vrange_free(root, 1);
}

static void
test_children_inherit_open_ends(void **state)
{
	char	   *lo[] = {"a", "1"};
	char	   *b1[] = {"m", "7"};
	char	  **bounds[] = {b1};
	vrange		parent = {lo, NULL, 10, 11, 3};
	/* An empty sub-range has no sum; the target has rows there. */
	vrange_sum	src[] = {{5, "9"}, {0, NULL}};
	vrange_sum	tgt[] = {{5, "8"}, {6, "77"}};
	vrange	  **kids;
	int			n;

	(void) state;
	n = vrange_children(&parent, 2, bounds, 1, src, tgt, &kids);
	assert_int_equal(n, 2);
	assert_string_equal(kids[0]->lo[0], "a");
	assert_string_equal(kids[0]->lo[1], "1");
	assert_string_equal(kids[0]->hi[1], "7");
	assert_string_equal(kids[1]->lo[0], "m");
	assert_null(kids[1]->hi);
	assert_int_equal(kids[1]->nsrc, 0);
	assert_int_equal(kids[1]->ntgt, 6);
	assert_int_equal(kids[1]->depth, 4);
	vrange_free_array(kids, n, 2);
}

static void
test_children_empty_on_both_sides_are_equal(void **state)
{
	vrange_sum	src[] = {{0, NULL}, {3, "5"}};
	vrange_sum	tgt[] = {{0, NULL}, {3, "5"}};
	char	   *b1[] = {"x"};
	char	  **bounds[] = {b1};
	vrange	   *root = vrange_root(3, 3);
	vrange	  **kids;

	(void) state;
	assert_int_equal(vrange_children(root, 1, bounds, 1, src, tgt, &kids), 0);
	vrange_free_array(kids, 0, 1);
	vrange_free(root, 1);
}

static void
test_keycmp_integers_by_value(void **state)
{
	bool		isint[] = {true, false};
	vrange_keyspec ks = {2, isint};
	char	   *a[] = {"9", "b"};
	char	   *b[] = {"10", "a"};
	char	   *c[] = {"-10", "a"};
	char	   *d[] = {"-9", "a"};
	char	   *e[] = {"9", "c"};

	(void) state;
	assert_true(vrange_keycmp(&ks, a, b) < 0);
	assert_true(vrange_keycmp(&ks, c, d) < 0);
	assert_true(vrange_keycmp(&ks, d, a) < 0);
	assert_true(vrange_keycmp(&ks, a, e) < 0);
	assert_int_equal(vrange_keycmp(&ks, a, a), 0);
	/* Text columns compare bytewise: "10" sorts before "9". */
	ks.integer = NULL;
	assert_true(vrange_keycmp(&ks, b, a) < 0);
}

static void
test_diff_missing_extra_changed(void **state)
{
	const char *sk[] = {"42", "7", "1", "100"};
	const char *sh[] = {"h42", "h7", "h1", "h100"};
	const char *tk[] = {"1", "100", "7", "1001"};
	const char *th[] = {"h1", "h100", "x7", "h1001"};
	vrange_row *s = rows1(4, sk, sh);
	vrange_row *t = rows1(4, tk, th);
	bool		isint[] = {true};
	vrange_keyspec ks = {1, isint};
	seen		out = {0, {0}, 1};
	bool		truncated;

	(void) state;
	assert_int_equal(vrange_diff(&ks, s, 4, t, 4, -1, collect, &out,
								 &truncated), 3);
	assert_false(truncated);
	assert_string_equal(out.lines[0], "C:7");
	assert_string_equal(out.lines[1], "M:42");
	assert_string_equal(out.lines[2], "E:1001");
	seen_free(&out);
	rows_free(s, 4);
	rows_free(t, 4);
}

static void
test_diff_limit_truncates(void **state)
{
	const char *sk[] = {"1", "2", "3", "4", "5"};
	const char *sh[] = {"a", "b", "c", "d", "e"};
	vrange_row *s = rows1(5, sk, sh);
	vrange_row *t = rows1(0, NULL, NULL);
	vrange_keyspec ks = {1, NULL};
	seen		out = {0, {0}, 1};
	bool		truncated;

	(void) state;
	assert_int_equal(vrange_diff(&ks, s, 5, t, 0, 2, collect, &out,
								 &truncated), 2);
	assert_true(truncated);
	assert_string_equal(out.lines[0], "M:1");
	assert_string_equal(out.lines[1], "M:2");
	seen_free(&out);

	/* Exactly as many differences as the limit: not truncated. */
	out.n = 0;
	assert_int_equal(vrange_diff(&ks, s, 2, t, 0, 2, collect, &out,
								 &truncated), 2);
	assert_false(truncated);
	seen_free(&out);
	rows_free(s, 5);
	rows_free(t, 0);
}

static void
test_diff_equal_lists_and_empty(void **state)
{
	const char *k[] = {"b", "a"};
	const char *h[] = {"1", "2"};
	const char *k2[] = {"a", "b"};
	const char *h2[] = {"2", "1"};
	vrange_row *s = rows1(2, k, h);
	vrange_row *t = rows1(2, k2, h2);
	vrange_keyspec ks = {1, NULL};
	seen		out = {0, {0}, 1};
	bool		truncated;

	(void) state;
	assert_int_equal(vrange_diff(&ks, s, 2, t, 2, 10, collect, &out,
								 &truncated), 0);
	assert_int_equal(vrange_diff(&ks, s, 0, t, 0, 10, collect, &out,
								 &truncated), 0);
	assert_false(truncated);
	rows_free(s, 2);
	rows_free(t, 2);
}

static void
test_diff_composite_keys(void **state)
{
	char	   *s1[] = {"x", "2"};
	char	   *s2[] = {"x", "10"};
	char	   *t1[] = {"x", "10"};
	char	   *t2[] = {"y", "2"};
	vrange_row	s[] = {{s2, "h"}, {s1, "h"}};
	vrange_row	t[] = {{t2, "h"}, {t1, "h2"}};
	bool		isint[] = {false, true};
	vrange_keyspec ks = {2, isint};
	seen		out = {0, {0}, 2};
	bool		truncated;

	(void) state;
	assert_int_equal(vrange_diff(&ks, s, 2, t, 2, -1, collect, &out,
								 &truncated), 3);
	assert_string_equal(out.lines[0], "M:x:2");
	assert_string_equal(out.lines[1], "C:x:10");
	assert_string_equal(out.lines[2], "E:y:2");
	seen_free(&out);
}

static vrange_found
found(vrange_diffkind kind, const char *key, const char *hash)
{
	vrange_found f = {kind, NULL, xstrdup(hash)};
	char	   *k = (char *) key;

	f.key = vrange_key_copy(&k, 1);
	return f;
}

static void
test_reconcile_settles_misplaced_rows(void **state)
{
	vrange_found f[] = {
		found(VRANGE_EXTRA, "b", "h1"),
		found(VRANGE_MISSING, "c", "h2"),
		found(VRANGE_CHANGED, "a", "h0"),
		found(VRANGE_MISSING, "b", "h1"),	/* same row, other range: drop */
		found(VRANGE_EXTRA, "c", "h3"), /* same key, other row: changed */
		found(VRANGE_MISSING, "d", "h4"),
		found(VRANGE_CHANGED, "a", "h0"),	/* found twice: once */
	};
	vrange_keyspec ks = {1, NULL};
	int			n;

	(void) state;
	n = vrange_reconcile(&ks, f, 7);
	assert_int_equal(n, 3);
	assert_string_equal(f[0].key[0], "a");
	assert_int_equal(f[0].kind, VRANGE_CHANGED);
	assert_string_equal(f[1].key[0], "c");
	assert_int_equal(f[1].kind, VRANGE_CHANGED);
	assert_string_equal(f[2].key[0], "d");
	assert_int_equal(f[2].kind, VRANGE_MISSING);
	for (int i = 0; i < n; i++)
	{
		vrange_key_free(f[i].key, 1);
		free(f[i].hash);
	}
}

static void
test_key_format(void **state)
{
	const char *cols[] = {"id", "name"};
	char	   *key[] = {"42", "a b"};
	char	   *s;

	(void) state;
	s = vrange_key_format(cols, key, 1);
	assert_string_equal(s, "(id)=(42)");
	free(s);
	s = vrange_key_format(cols, key, 2);
	assert_string_equal(s, "(id, name)=(42, a b)");
	free(s);
}

/*
 * A whole descent against two in-memory "tables" of integer keys: split
 * where vrange_next says, sum sub-ranges as a server would, fetch leaves,
 * and check that exactly the planted differences come out.
 */
typedef struct side
{
	int			n;
	const int  *keys;			/* sorted */
	const int  *vals;
} side;

static bool
in_range(const vrange *r, int k)
{
	if (r->lo && k < (int) strtol(r->lo[0], NULL, 10))
		return false;
	if (r->hi && k >= (int) strtol(r->hi[0], NULL, 10))
		return false;
	return true;
}

static void
side_sums(const side *sd, const vrange *r, char **const *bounds, int nb,
		  vrange_sum *sums, char (*buf)[32])
{
	int64_t		total[64] = {0};

	for (int i = 0; i <= nb; i++)
		sums[i].count = 0;
	for (int i = 0; i < sd->n; i++)
	{
		int			b = 0;

		if (!in_range(r, sd->keys[i]))
			continue;
		while (b < nb && sd->keys[i] >= (int) strtol(bounds[b][0], NULL, 10))
			b++;
		sums[b].count++;
		total[b] += sd->vals[i] * 7919 + sd->keys[i];
	}
	for (int i = 0; i <= nb; i++)
	{
		snprintf(buf[i], 32, "%lld", (long long) total[i]);
		sums[i].sum = sums[i].count ? buf[i] : NULL;
	}
}

static int
side_sample(const side *sd, const vrange *r, int64_t step, int max,
			char ***bounds)
{
	int			nb = 0,
				pos = 0;

	for (int i = 0; i < sd->n && nb < max; i++)
	{
		if (!in_range(r, sd->keys[i]))
			continue;
		if (++pos % step == 0)
		{
			char	   *v = str_printf("%d", sd->keys[i]);

			bounds[nb++] = vrange_key_copy(&v, 1);
			free(v);
		}
	}
	return nb;
}

static int
side_rows(const side *sd, const vrange *r, vrange_row *rows)
{
	int			n = 0;

	for (int i = 0; i < sd->n; i++)
	{
		if (!in_range(r, sd->keys[i]))
			continue;
		rows[n].key = xcalloc(1, sizeof(char *));
		rows[n].key[0] = str_printf("%d", sd->keys[i]);
		rows[n].hash = str_printf("%d", sd->vals[i]);
		n++;
	}
	return n;
}

static void
free_rows(vrange_row *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		vrange_key_free(rows[i].key, 1);
		free(rows[i].hash);
	}
}

static void
descend(const side *s, const side *t, vrange *r, const vrange_params *p,
		seen *out, int *fetches)
{
	int64_t		step;
	bool		from_target;
	bool		isint[] = {true};
	vrange_keyspec ks = {1, isint};

	if (vrange_next(r, p, &step, &from_target) == VRANGE_FETCH)
	{
		vrange_row *rs = xcalloc((size_t) s->n + 1, sizeof(vrange_row));
		vrange_row *rt = xcalloc((size_t) t->n + 1, sizeof(vrange_row));
		int			ns = side_rows(s, r, rs);
		int			nt = side_rows(t, r, rt);
		bool		truncated;

		(*fetches)++;
		assert_true(ns <= p->leaf_rows && nt <= p->leaf_rows);
		vrange_diff(&ks, rs, ns, rt, nt, -1, collect, out, &truncated);
		free_rows(rs, ns);
		free_rows(rt, nt);
		free(rs);
		free(rt);
	}
	else
	{
		char	  **bounds[64];
		vrange_sum ss[64],
					ts[64];
		char		sbuf[64][32],
					tbuf[64][32];
		vrange	  **kids;
		int			nb = side_sample(from_target ? t : s, r, step,
									 p->fanout - 1, bounds);
		int			nk;

		side_sums(s, r, bounds, nb, ss, sbuf);
		side_sums(t, r, bounds, nb, ts, tbuf);
		nk = vrange_children(r, 1, bounds, nb, ss, ts, &kids);
		for (int i = 0; i < nb; i++)
			vrange_key_free(bounds[i], 1);
		for (int i = 0; i < nk; i++)
			descend(s, t, kids[i], p, out, fetches);
		vrange_free_array(kids, nk, 1);
	}
}

static void
test_descent_finds_planted_differences(void **state)
{
	enum
	{
		N = 20000
	};
	int		   *sk = xcalloc(N, sizeof(int));
	int		   *sv = xcalloc(N, sizeof(int));
	int		   *tk = xcalloc(N + 1, sizeof(int));
	int		   *tv = xcalloc(N + 1, sizeof(int));
	int			nt = 0;
	vrange_params p = {100, 8, 16};
	seen		out = {0, {0}, 1};
	int			fetches = 0;
	vrange	   *root;

	(void) state;
	for (int i = 0; i < N; i++)
	{
		sk[i] = i * 2;
		sv[i] = i;
	}
	for (int i = 0; i < N; i++)
	{
		if (i == 777)
			continue;			/* deleted on the target */
		tk[nt] = sk[i];
		tv[nt] = i == 15000 ? -1 : sv[i];	/* changed */
		nt++;
		if (i == 9000)
		{
			tk[nt] = sk[i] + 1; /* inserted */
			tv[nt++] = 5;
		}
	}
	root = vrange_root(N, nt);
	descend(&(side) {N, sk, sv}, &(side) {nt, tk, tv}, root, &p, &out,
			&fetches);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.lines[0], "M:1554");
	assert_string_equal(out.lines[1], "E:18001");
	assert_string_equal(out.lines[2], "C:30000");
	/* Only the ranges holding a difference were fetched. */
	assert_true(fetches <= 3);
	seen_free(&out);
	vrange_free(root, 1);
	free(sk);
	free(sv);
	free(tk);
	free(tv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_fetches_small_ranges),
		cmocka_unit_test(test_next_samples_the_larger_side),
		cmocka_unit_test(test_children_keep_only_differing_ranges),
		cmocka_unit_test(test_children_inherit_open_ends),
		cmocka_unit_test(test_children_empty_on_both_sides_are_equal),
		cmocka_unit_test(test_keycmp_integers_by_value),
		cmocka_unit_test(test_diff_missing_extra_changed),
		cmocka_unit_test(test_diff_limit_truncates),
		cmocka_unit_test(test_diff_equal_lists_and_empty),
		cmocka_unit_test(test_diff_composite_keys),
		cmocka_unit_test(test_reconcile_settles_misplaced_rows),
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_descent_finds_planted_differences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
