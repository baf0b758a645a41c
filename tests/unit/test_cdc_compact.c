/*
 * test_cdc_compact.c
 *		Unit tests of the net effect of held row changes: what successive
 *		changes of one row become, what is refused, and the order in which
 *		the rows are sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/compact.h"

/* Rows of two columns: the key "id" first, then "v" ('u': not sent). */
static const bool key2[2] = {true, false};

typedef struct row2
{
	pgo_value	cols[2];
	pgo_tuple	t;
} row2;

static void
text(pgo_value *v, const char *s)
{
	if (s == NULL)
	{
		v->kind = PGO_VALUE_UNCHANGED;
		v->len = 0;
		v->data = NULL;
		return;
	}
	v->kind = PGO_VALUE_TEXT;
	v->len = (uint32_t) strlen(s);
	v->data = (const uint8_t *) s;
}

static const pgo_tuple *
tup(row2 *r, const char *id, const char *v)
{
	text(&r->cols[0], id);
	text(&r->cols[1], v);
	r->t.ncols = 2;
	r->t.cols = r->cols;
	return &r->t;
}

static bool
is_text(const pgo_value *v, const char *s)
{
	return v->kind == PGO_VALUE_TEXT && v->len == strlen(s) &&
		memcmp(v->data, s, v->len) == 0;
}

static void
test_insert_then_update_is_one_insert(void **state)
{
	compact    *c = compact_create();
	row2		r;
	const compact_item *it;
	int			n;

	(void) state;
	assert_true(compact_insert(c, 1, key2, tup(&r, "1", "a"), 10));
	assert_true(compact_update(c, 1, key2, tup(&r, "1", "b"), 20));
	assert_true(compact_update(c, 1, key2, tup(&r, "1", NULL), 30));
	assert_int_equal(compact_changes(c), 3);
	it = compact_items(c, &n);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].op, 'I');
	assert_true(is_text(&it[0].row->newv[1], "b"));	/* unsent: kept */
	assert_int_equal(it[0].row->lsn, 30);
	compact_free(c);
}

static void
test_updates_merge_columns(void **state)
{
	compact    *c = compact_create();
	row2		r;
	pgo_value	cols[3];
	pgo_tuple	t = {3, cols};
	static const bool key3[3] = {true, false, false};
	const compact_item *it;
	int			n;

	(void) state;
	text(&cols[0], "7");
	text(&cols[1], "x");
	text(&cols[2], NULL);
	assert_true(compact_update(c, 2, key3, &t, 1));
	text(&cols[1], NULL);
	text(&cols[2], "z");
	assert_true(compact_update(c, 2, key3, &t, 2));
	it = compact_items(c, &n);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].op, 'U');
	assert_true(is_text(&it[0].row->newv[1], "x"));
	assert_true(is_text(&it[0].row->newv[2], "z"));
	assert_true(is_text(&it[0].row->keyv[0], "7"));
	(void) r;
	compact_free(c);
}

static void
test_insert_then_delete_is_nothing(void **state)
{
	compact    *c = compact_create();
	row2		r;
	int			n;

	(void) state;
	assert_true(compact_insert(c, 1, key2, tup(&r, "1", "a"), 1));
	assert_true(compact_delete(c, 1, key2, tup(&r, "1", NULL), 2));
	(void) compact_items(c, &n);
	assert_int_equal(n, 0);
	/* and inserted again */
	assert_true(compact_insert(c, 1, key2, tup(&r, "1", "c"), 3));
	(void) compact_items(c, &n);
	assert_int_equal(n, 1);
	compact_free(c);
}

static void
test_delete_then_insert_is_replace(void **state)
{
	compact    *c = compact_create();
	row2		r;
	const compact_item *it;
	int			n;

	(void) state;
	assert_true(compact_update(c, 1, key2, tup(&r, "1", "a"), 1));
	assert_true(compact_delete(c, 1, key2, tup(&r, "1", NULL), 2));
	assert_true(compact_insert(c, 1, key2, tup(&r, "1", "b"), 3));
	assert_true(compact_update(c, 1, key2, tup(&r, "1", "c"), 4));
	it = compact_items(c, &n);
	assert_int_equal(n, 2);
	assert_int_equal(it[0].op, 'D');
	assert_int_equal(it[1].op, 'I');
	assert_ptr_equal(it[0].row, it[1].row);
	assert_true(is_text(&it[1].row->newv[1], "c"));
	/* deleted again: only the delete is left */
	assert_true(compact_delete(c, 1, key2, tup(&r, "1", NULL), 5));
	it = compact_items(c, &n);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].op, 'D');
	compact_free(c);
}

/* What the source cannot have done is refused, so the target says so. */
static void
test_impossible_sequences_are_refused(void **state)
{
	compact    *c = compact_create();
	row2		r;

	(void) state;
	assert_true(compact_insert(c, 1, key2, tup(&r, "1", "a"), 1));
	assert_false(compact_insert(c, 1, key2, tup(&r, "1", "b"), 2));
	assert_true(compact_update(c, 1, key2, tup(&r, "2", "a"), 3));
	assert_false(compact_insert(c, 1, key2, tup(&r, "2", "b"), 4));
	assert_true(compact_delete(c, 1, key2, tup(&r, "3", NULL), 5));
	assert_false(compact_update(c, 1, key2, tup(&r, "3", "x"), 6));
	assert_false(compact_delete(c, 1, key2, tup(&r, "3", NULL), 7));
	/* a key column not sent cannot find its row */
	assert_false(compact_update(c, 1, key2, tup(&r, NULL, "x"), 8));
	assert_int_equal(compact_changes(c), 3);
	compact_free(c);
}

/* Keys are compared by their bytes and relation, not by their hash only. */
static void
test_keys_are_exact(void **state)
{
	compact    *c = compact_create();
	row2		r;
	char		id[16];
	int			n;

	(void) state;
	for (int i = 0; i < 5000; i++)
	{
		snprintf(id, sizeof(id), "%d", i);
		assert_true(compact_insert(c, 1, key2, tup(&r, id, "a"), 1));
		assert_true(compact_insert(c, 2, key2, tup(&r, id, "a"), 1));
	}
	for (int i = 0; i < 5000; i += 2)
	{
		snprintf(id, sizeof(id), "%d", i);
		assert_true(compact_delete(c, 1, key2, tup(&r, id, NULL), 2));
	}
	(void) compact_items(c, &n);
	assert_int_equal(n, 7500);
	compact_reset(c);
	(void) compact_items(c, &n);
	assert_int_equal(n, 0);
	assert_int_equal(compact_changes(c), 0);
	assert_true(compact_insert(c, 1, key2, tup(&r, "0", "a"), 3));
	compact_free(c);
}

/*
 * The order: relations as first changed; deletes, updates, inserts; rows
 * that set the same columns together, each group as first changed.
 */
static void
test_order(void **state)
{
	compact    *c = compact_create();
	row2		r;
	const compact_item *it;
	int			n;

	(void) state;
	assert_true(compact_insert(c, 5, key2, tup(&r, "1", "a"), 1));
	assert_true(compact_update(c, 9, key2, tup(&r, "1", "a"), 2));
	assert_true(compact_update(c, 5, key2, tup(&r, "2", NULL), 3));
	assert_true(compact_update(c, 5, key2, tup(&r, "3", "b"), 4));
	assert_true(compact_delete(c, 5, key2, tup(&r, "4", NULL), 5));
	compact_append(c, 9, tup(&r, "1", "a"), 6);
	compact_append(c, 9, tup(&r, "1", "a"), 7);	/* appended: not merged */
	assert_true(compact_update(c, 5, key2, tup(&r, "5", NULL), 8));
	it = compact_items(c, &n);
	assert_int_equal(n, 8);
	assert_int_equal(it[0].row->relid, 5);
	assert_int_equal(it[0].op, 'D');
	assert_int_equal(it[1].op, 'U');
	assert_true(is_text(&it[1].row->keyv[0], "3"));	/* sets v */
	assert_int_equal(it[2].op, 'U');
	assert_true(is_text(&it[2].row->keyv[0], "2"));
	assert_true(is_text(&it[3].row->keyv[0], "5"));
	assert_int_equal(it[4].op, 'I');
	assert_int_equal(it[5].row->relid, 9);
	assert_int_equal(it[5].op, 'U');
	assert_int_equal(it[6].op, 'I');
	assert_int_equal(it[7].op, 'I');
	assert_true(it[6].row->keyless && it[7].row->keyless);
	compact_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_then_update_is_one_insert),
		cmocka_unit_test(test_updates_merge_columns),
		cmocka_unit_test(test_insert_then_delete_is_nothing),
		cmocka_unit_test(test_delete_then_insert_is_replace),
		cmocka_unit_test(test_impossible_sequences_are_refused),
		cmocka_unit_test(test_keys_are_exact),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
