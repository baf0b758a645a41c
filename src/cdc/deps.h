/*
 * deps.h
 *		The keys source transactions touch, for parallel apply.
 *
 * A change names the rows it touches by keys: a 64-bit hash of its
 * relation and the values of the replica identity's columns (an update
 * that changes the key touches both the old and the new key), or, for a
 * table whose rows cannot be told apart that way (replica identity FULL or
 * NOTHING, a unique index or exclusion constraint besides the identity's,
 * see apply.c), the whole table.  A cdc_deps holds the keys of one batch
 * of source transactions; a change of a later batch conflicts with it
 * when it touches a key the batch holds, or a table the batch touched
 * whole, or touches whole a table the batch touched at all.  An insert
 * into a table without unique index or exclusion constraint cannot meet
 * any other row: it conflicts with nothing, but touches the table and its
 * row's key (a later change of that row, or of the whole table, must see
 * it).
 *
 * Pure: no I/O.  Hashes collide rarely, and a collision only makes two
 * changes conflict that did not need to.
 */
#ifndef PGCRANE_CDC_DEPS_H
#define PGCRANE_CDC_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_dep
{
	uint32_t	relid;			/* the source's relation OID */
	bool		whole;			/* the whole table; hash unused */
	bool		append;			/* an insert into a table without unique
								 * constraints: conflicts with nothing, but
								 * touches the table and its row's key */
	bool		keyless;		/* with append: no key (hash unused) */
	uint64_t	hash;			/* cdc_deps_hash_*() of the key */
} cdc_dep;

/* A set of 64-bit values (open addressing). */
typedef struct cdc_keyset
{
	uint64_t   *slots;			/* 0 is empty */
	size_t		cap;			/* a power of 2, or 0 */
	size_t		n;
} cdc_keyset;

typedef struct cdc_deps
{
	cdc_keyset	rows;			/* keys of rows */
	cdc_keyset	tables;			/* relations touched at all */
	cdc_keyset	whole;			/* relations touched whole */
} cdc_deps;

#define CDC_DEPS_INIT {{NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}}

/* The hash of a key: start with the relation, add each column's value. */
uint64_t	cdc_deps_hash_start(uint32_t relid);
uint64_t	cdc_deps_hash_add(uint64_t h, char kind, const void *data, size_t len);

void		cdc_deps_add(cdc_deps *d, const cdc_dep *k);
bool		cdc_deps_conflict(const cdc_deps *d, const cdc_dep *k);
size_t		cdc_deps_count(const cdc_deps *d);
void		cdc_deps_release(cdc_deps *d);

void		cdc_keyset_add(cdc_keyset *s, uint64_t v);
bool		cdc_keyset_has(const cdc_keyset *s, uint64_t v);
void		cdc_keyset_release(cdc_keyset *s);

#endif
