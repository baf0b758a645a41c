/*
 * compact.c
 *		The net effect of the row changes of one target transaction.
 *
 * Rows are found by relation and the exact bytes of their key columns in
 * an open-addressing hash table; see compact.h for what is merged.
 */
#include "cdc/compact.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/deps.h"
#include "util/str.h"

struct compact
{
	compact_row **rows;			/* in the order first changed */
	int			nrows;
	int			cap;
	int		   *slots;			/* index into rows + 1; 0: empty */
	int			nslots;			/* a power of two */
	uint32_t   *rels;			/* relations in the order first changed */
	int			nrels;
	int			relcap;
	compact_item *items;
	int			nitems;
	int			itemcap;
	int			changes;
};

compact *
compact_create(void)
{
	return xcalloc(1, sizeof(compact));
}

static void
values_free(pgo_value *v, int n)
{
	for (int i = 0; v != NULL && i < n; i++)
		free((void *) v[i].data);
	free(v);
}

static void
row_free(compact_row *r)
{
	values_free(r->newv, r->ncols);
	values_free(r->keyv, r->ncols);
	free(r);
}

void
compact_reset(compact *c)
{
	for (int i = 0; i < c->nrows; i++)
		row_free(c->rows[i]);
	c->nrows = 0;
	c->nrels = 0;
	c->nitems = 0;
	c->changes = 0;
	if (c->slots != NULL)
		memset(c->slots, 0, (size_t) c->nslots * sizeof(int));
}

void
compact_free(compact *c)
{
	if (c == NULL)
		return;
	compact_reset(c);
	free(c->rows);
	free(c->slots);
	free(c->rels);
	free(c->items);
	free(c);
}

int
compact_changes(const compact *c)
{
	return c->changes;
}

/* ---------- values ---------- */

static void
value_copy(pgo_value *dst, const pgo_value *src)
{
	uint8_t    *data = NULL;

	if (src->len > 0)
	{
		data = xmalloc(src->len);
		memcpy(data, src->data, src->len);
	}
	dst->kind = src->kind;
	dst->len = src->len;
	dst->data = data;
}

/* A copy of the n values of t that pick selects (all when NULL). */
static pgo_value *
values_copy(const pgo_tuple *t, const bool *pick)
{
	pgo_value  *v = xcalloc((size_t) t->ncols, sizeof(pgo_value));

	for (int i = 0; i < t->ncols; i++)
	{
		if (pick == NULL || pick[i])
			value_copy(&v[i], &t->cols[i]);
		else
			v[i].kind = PGO_VALUE_UNCHANGED;
	}
	return v;
}

/* Overwrite dst with what t sends (its unchanged values keep dst's). */
static void
values_merge(pgo_value *dst, const pgo_tuple *t)
{
	for (int i = 0; i < t->ncols; i++)
	{
		if (t->cols[i].kind == PGO_VALUE_UNCHANGED)
			continue;
		free((void *) dst[i].data);
		value_copy(&dst[i], &t->cols[i]);
	}
}

static bool
same_value(const pgo_value *a, const pgo_value *b)
{
	return a->kind == b->kind && a->len == b->len &&
		(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* ---------- the table of rows by key ---------- */

/* The hash of t's key columns; false when one of them is not sent. */
static bool
key_hash(uint32_t relid, const bool *key, const pgo_tuple *t, uint64_t *hash)
{
	uint64_t	h = cdc_deps_hash_start(relid);

	for (int i = 0; i < t->ncols; i++)
	{
		const pgo_value *v = &t->cols[i];

		if (!key[i])
			continue;
		if (v->kind != PGO_VALUE_TEXT && v->kind != PGO_VALUE_BINARY)
			return false;
		h = cdc_deps_hash_add(h, v->kind, v->data, v->len);
	}
	*hash = h;
	return true;
}

static bool
row_matches(const compact_row *r, uint32_t relid, const bool *key,
			const pgo_tuple *t, uint64_t hash)
{
	if (r->keyless || r->hash != hash || r->relid != relid || r->ncols != t->ncols)
		return false;
	for (int i = 0; i < t->ncols; i++)
		if (key[i] && !same_value(&r->keyv[i], &t->cols[i]))
			return false;
	return true;
}

/* The slot of the row with t's key, or of the empty slot it would take. */
static int *
find_slot(compact *c, uint32_t relid, const bool *key, const pgo_tuple *t,
		  uint64_t hash)
{
	size_t		mask = (size_t) c->nslots - 1;

	for (size_t i = (size_t) hash & mask;; i = (i + 1) & mask)
	{
		int		   *slot = &c->slots[i];

		if (*slot == 0 || row_matches(c->rows[*slot - 1], relid, key, t, hash))
			return slot;
	}
}

static void
slots_grow(compact *c)
{
	int			n = c->nslots ? c->nslots * 2 : 256;
	size_t		mask = (size_t) n - 1;

	free(c->slots);
	c->slots = xcalloc((size_t) n, sizeof(int));
	c->nslots = n;
	for (int r = 0; r < c->nrows; r++)
	{
		size_t		i;

		if (c->rows[r]->keyless)
			continue;
		for (i = (size_t) c->rows[r]->hash & mask; c->slots[i] != 0; i = (i + 1) & mask)
			;
		c->slots[i] = r + 1;
	}
}

/* The rank of relid among the relations changed, adding it if new. */
static int
note_relation(compact *c, uint32_t relid)
{
	for (int i = c->nrels - 1; i >= 0; i--)
		if (c->rels[i] == relid)
			return i;
	if (c->nrels == c->relcap)
	{
		c->relcap = c->relcap ? c->relcap * 2 : 16;
		c->rels = xrealloc(c->rels, (size_t) c->relcap * sizeof(uint32_t));
	}
	c->rels[c->nrels++] = relid;
	return c->nrels - 1;
}

/* A new pending row (its slot, if keyed, filled by the caller). */
static compact_row *
row_add(compact *c, uint32_t relid, char op, int ncols, uint64_t lsn)
{
	compact_row *r = xcalloc(1, sizeof(compact_row));

	if (c->nrows == c->cap)
	{
		c->cap = c->cap ? c->cap * 2 : 256;
		c->rows = xrealloc(c->rows, (size_t) c->cap * sizeof(compact_row *));
	}
	r->relid = relid;
	r->op = op;
	r->ncols = ncols;
	r->lsn = lsn;
	r->order = (uint32_t) c->nrows;
	c->rows[c->nrows++] = r;
	r->relrank = note_relation(c, relid);
	return r;
}

/*
 * The pending row of t's key into *row (NULL if none), and the slot where
 * a new one goes.  NULL when the key cannot be told (a key column not
 * sent).
 */
static int *
lookup(compact *c, uint32_t relid, const bool *key, const pgo_tuple *t,
	   compact_row **row, uint64_t *hash)
{
	int		   *slot;

	if (!key_hash(relid, key, t, hash))
		return NULL;
	if ((c->nrows + 1) * 2 > c->nslots)
		slots_grow(c);
	slot = find_slot(c, relid, key, t, *hash);
	*row = *slot ? c->rows[*slot - 1] : NULL;
	return slot;
}

/* ---------- taking changes ---------- */

static compact_row *
new_keyed(compact *c, int *slot, uint32_t relid, char op, const bool *key,
		  const pgo_tuple *t, uint64_t hash, uint64_t lsn)
{
	compact_row *r = row_add(c, relid, op, t->ncols, lsn);

	r->hash = hash;
	r->keyv = values_copy(t, key);
	*slot = c->nrows;
	return r;
}

/* What a pending row becomes with one more change (op), or 0: not taken. */
static char
transition(char cur, char op)
{
	switch (op)
	{
		case COMPACT_INSERT:
			return cur == COMPACT_NONE ? COMPACT_INSERT
				: cur == COMPACT_DELETE ? COMPACT_REPLACE : 0;
		case COMPACT_UPDATE:
			return cur == COMPACT_INSERT || cur == COMPACT_UPDATE ||
				cur == COMPACT_REPLACE ? cur : 0;
		default:
			return cur == COMPACT_INSERT ? COMPACT_NONE
				: cur == COMPACT_UPDATE || cur == COMPACT_REPLACE ? COMPACT_DELETE : 0;
	}
}

/* Take change op of the row t names (see compact.h). */
static bool
take(compact *c, uint32_t relid, const bool *key, const pgo_tuple *t,
	 uint64_t lsn, char op)
{
	compact_row *r;
	uint64_t	hash;
	int		   *slot = lookup(c, relid, key, t, &r, &hash);
	char		next;

	if (slot == NULL)
		return false;
	next = r == NULL ? op : transition(r->op, op);
	if (next == 0)
		return false;
	if (r == NULL)
		r = new_keyed(c, slot, relid, op, key, t, hash, lsn);
	if (op == COMPACT_UPDATE && r->newv != NULL)
		values_merge(r->newv, t);
	else
	{
		values_free(r->newv, r->ncols);
		r->newv = op == COMPACT_DELETE ? NULL : values_copy(t, NULL);
	}
	r->op = next;
	r->lsn = lsn;
	c->changes++;
	return true;
}

bool
compact_insert(compact *c, uint32_t relid, const bool *key,
			   const pgo_tuple *new, uint64_t lsn)
{
	return take(c, relid, key, new, lsn, COMPACT_INSERT);
}

bool
compact_update(compact *c, uint32_t relid, const bool *key,
			   const pgo_tuple *new, uint64_t lsn)
{
	return take(c, relid, key, new, lsn, COMPACT_UPDATE);
}

bool
compact_delete(compact *c, uint32_t relid, const bool *key,
			   const pgo_tuple *old, uint64_t lsn)
{
	return take(c, relid, key, old, lsn, COMPACT_DELETE);
}

void
compact_append(compact *c, uint32_t relid, const pgo_tuple *new, uint64_t lsn)
{
	compact_row *r = row_add(c, relid, COMPACT_INSERT, new->ncols, lsn);

	r->keyless = true;
	r->newv = values_copy(new, NULL);
	c->changes++;
}

/* ---------- the order to send them in ---------- */

static int
phase(char op)
{
	return op == 'D' ? 0 : op == 'U' ? 1 : 2;
}

/* Rows of one relation and phase: by the columns they set, then order. */
static int
item_cmp(const void *pa, const void *pb)
{
	const compact_item *a = pa;
	const compact_item *b = pb;

	if (a->row->relrank != b->row->relrank)
		return a->row->relrank - b->row->relrank;
	if (a->op != b->op)
		return phase(a->op) - phase(b->op);
	for (int i = 0; a->op != 'D' && i < a->row->ncols && i < b->row->ncols; i++)
	{
		bool		sa = a->row->newv[i].kind != PGO_VALUE_UNCHANGED;
		bool		sb = b->row->newv[i].kind != PGO_VALUE_UNCHANGED;

		if (sa != sb)
			return sa ? -1 : 1;
	}
	if (a->row->ncols != b->row->ncols)
		return a->row->ncols - b->row->ncols;
	return a->row->order < b->row->order ? -1 : a->row->order > b->row->order;
}

static void
item_add(compact *c, const compact_row *r, char op)
{
	if (c->nitems == c->itemcap)
	{
		c->itemcap = c->itemcap ? c->itemcap * 2 : 256;
		c->items = xrealloc(c->items, (size_t) c->itemcap * sizeof(compact_item));
	}
	c->items[c->nitems].row = r;
	c->items[c->nitems].op = op;
	c->nitems++;
}

const compact_item *
compact_items(compact *c, int *n)
{
	c->nitems = 0;
	for (int i = 0; i < c->nrows; i++)
	{
		compact_row *r = c->rows[i];

		if (r->op == COMPACT_DELETE || r->op == COMPACT_REPLACE)
			item_add(c, r, 'D');
		if (r->op == COMPACT_UPDATE)
			item_add(c, r, 'U');
		if (r->op == COMPACT_INSERT || r->op == COMPACT_REPLACE)
			item_add(c, r, 'I');
	}
	qsort(c->items, (size_t) c->nitems, sizeof(compact_item), item_cmp);
	*n = c->nitems;
	return c->items;
}
