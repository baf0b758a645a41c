/*
 * deps.c
 *		The keys source transactions touch, for parallel apply.
 *
 * Keys are kept in open-addressing sets of 64-bit values, grown at half
 * full; 0 marks an empty slot, so a value 0 is stored as 1 (a collision,
 * harmless: see deps.h).  Row keys are FNV-1a hashes seeded with the
 * relation; relation sets hold the OID itself.
 */
#include "cdc/deps.h"

#include <stdlib.h>

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

static uint64_t
fnv(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t
cdc_deps_hash_start(uint32_t relid)
{
	unsigned char b[4] = {(unsigned char) (relid >> 24), (unsigned char) (relid >> 16),
	(unsigned char) (relid >> 8), (unsigned char) relid};

	return fnv(FNV_OFFSET, b, sizeof(b));
}

uint64_t
cdc_deps_hash_add(uint64_t h, char kind, const void *data, size_t len)
{
	unsigned char head[5] = {(unsigned char) kind, (unsigned char) (len >> 24),
		(unsigned char) (len >> 16), (unsigned char) (len >> 8), (unsigned char) len};

	h = fnv(h, head, sizeof(head));
	return len > 0 ? fnv(h, data, len) : h;
}

/* Spread a value over the slots (the low bits of a hash may be poor). */
static size_t
slot_of(uint64_t v, size_t cap)
{
	v ^= v >> 33;
	v *= UINT64_C(0xff51afd7ed558ccd);
	v ^= v >> 33;
	return (size_t) v & (cap - 1);
}

static void
put(uint64_t *slots, size_t cap, uint64_t v)
{
	size_t		i = slot_of(v, cap);

	while (slots[i] != 0 && slots[i] != v)
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

void
cdc_keyset_add(cdc_keyset *s, uint64_t v)
{
	if (v == 0)
		v = 1;
	if (cdc_keyset_has(s, v))
		return;
	if ((s->n + 1) * 2 > s->cap)
	{
		size_t		cap = s->cap ? s->cap * 2 : 64;
		uint64_t   *slots = calloc(cap, sizeof(uint64_t));

		if (slots == NULL)
			abort();
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i] != 0)
				put(slots, cap, s->slots[i]);
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	put(s->slots, s->cap, v);
	s->n++;
}

bool
cdc_keyset_has(const cdc_keyset *s, uint64_t v)
{
	size_t		i;

	if (v == 0)
		v = 1;
	if (s->cap == 0)
		return false;
	for (i = slot_of(v, s->cap); s->slots[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == v)
			return true;
	return false;
}

void
cdc_keyset_release(cdc_keyset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}

void
cdc_deps_add(cdc_deps *d, const cdc_dep *k)
{
	cdc_keyset_add(&d->tables, k->relid);
	if (k->append && k->keyless)
		return;
	if (k->whole)
		cdc_keyset_add(&d->whole, k->relid);
	else
		cdc_keyset_add(&d->rows, k->hash);
}

bool
cdc_deps_conflict(const cdc_deps *d, const cdc_dep *k)
{
	if (k->append)
		return false;
	if (cdc_keyset_has(&d->whole, k->relid))
		return true;
	if (k->whole)
		return cdc_keyset_has(&d->tables, k->relid);
	return cdc_keyset_has(&d->rows, k->hash);
}

size_t
cdc_deps_count(const cdc_deps *d)
{
	return d->rows.n + d->whole.n;
}

void
cdc_deps_release(cdc_deps *d)
{
	cdc_keyset_release(&d->rows);
	cdc_keyset_release(&d->tables);
	cdc_keyset_release(&d->whole);
}
