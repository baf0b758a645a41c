/*
 * catalog.h
 *		What the source database holds, read from its catalogs.
 *
 * catalog_load() runs on a source connection that has imported the
 * clone's snapshot, so the inventory matches the schema dump and the data.
 * It lists the tables whose rows are copied (regular tables and leaf
 * partitions; not views, foreign tables, partitioned parents or tables
 * belonging to extensions, but the configuration tables of extensions as
 * pg_dump copies them), the indexes and index-backed constraints on
 * them, the foreign keys between them, the sequences, the partitioned tables (for ANALYZE) and the number
 * of large objects.  All strings are owned by the catalog and freed by
 * catalog_release().
 */
#ifndef PGCRANE_CATALOG_H
#define PGCRANE_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct cat_table
{
	uint32_t	oid;
	char	   *nspname;
	char	   *relname;
	char	   *qname;			/* "schema"."table", quoted */
	char	   *display;		/* schema.table, unquoted, for messages */
	char	   *columns;		/* quoted column list copied (no generated) */
	int			ncolumns;
	bool		binary;			/* every column type has a portable binary form */
	int64_t		bytes;			/* pg_table_size: heap and TOAST */
	int64_t		heap_pages;		/* pages of the main fork */
	int64_t		toast_bytes;	/* of its TOAST table */
	double		reltuples;
	char	   *filter;			/* an extension's configuration table: the
								 * condition of pg_extension_config_dump ("" or
								 * "WHERE ..."), whose rows are copied; NULL
								 * for every other table */
} cat_table;

typedef struct cat_index
{
	uint32_t	oid;
	uint32_t	table_oid;
	int			table;			/* index into catalog.tables */
	char	   *qname;			/* "schema"."index" */
	char	   *relname;		/* "index", quoted, without the schema */
	char	   *display;
	char	   *indexdef;		/* pg_get_indexdef() */
	uint32_t	con_oid;		/* backing constraint, 0 if none */
	char		contype;		/* 'p', 'u', 'x' or '\0' */
	char	   *conname;		/* quoted constraint name, NULL if none */
	char	   *condef;			/* pg_get_constraintdef() */
	bool		deferrable;
	bool		deferred;
	bool		using_index_ok; /* ADD CONSTRAINT ... USING INDEX allowed */
	bool		replident;		/* REPLICA IDENTITY USING INDEX */
	bool		clustered;		/* CLUSTER ON */
	char	   *tablespace;		/* where it goes: the source's (its own, or
								 * the database's when not pg_default),
								 * then as --tablespace-map maps it; NULL
								 * for the target database's default */
	char	   *extra_sql;		/* ALTER INDEX ... SET STATISTICS and DEPENDS
								 * ON EXTENSION statements, "; "-separated,
								 * built by the server; NULL if none */
} cat_index;

/*
 * A foreign key between two copied tables whose referenced key is one of
 * the indexes pgcrane builds; added by pgcrane once both tables are done.
 * Keys on or into partitioned tables are left to the post-data restore.
 */
typedef struct cat_fk
{
	uint32_t	oid;			/* pg_constraint */
	int			table;			/* referencing table, index into tables */
	int			ref_table;		/* referenced table */
	uint32_t	ref_index;		/* OID of the referenced key's index */
	char	   *conname;		/* quoted */
	char	   *display;		/* "name" on schema.table, for messages */
	char	   *condef;			/* pg_get_constraintdef() */
} cat_fk;

typedef struct cat_sequence
{
	char	   *qname;
	char	   *display;
} cat_sequence;

typedef struct catalog
{
	cat_table  *tables;			/* largest first */
	int			ntables;
	cat_index  *indexes;
	int			nindexes;
	cat_fk	   *fks;
	int			nfks;
	cat_sequence *sequences;
	int			nsequences;
	char	  **partitioned;	/* quoted names of partitioned tables */
	int			npartitioned;
	int64_t		nlargeobjects;
	int64_t		block_size;
} catalog;

#define CATALOG_INIT {0}

/* Read the inventory; 0 or -1 (logged). */
int			catalog_load(PGconn *src, catalog *cat);
void		catalog_release(catalog *cat);

/* The size of every table, heap and TOAST (the tables' "bytes"). */
int64_t		catalog_bytes(const catalog *cat);

/* Drop the indexes whose keep[i] is false, keeping the order. */
void		catalog_keep_indexes(catalog *cat, const bool *keep);

/* Drop the foreign keys whose keep[i] is false, keeping the order. */
void		catalog_keep_fks(catalog *cat, const bool *keep);

/*
 * Drop the tables whose keep[i] is false (a selection leaves them or
 * their rows out), with their indexes and the foreign keys on or into
 * them, keeping the order.
 */
void		catalog_keep_tables(catalog *cat, const bool *keep);

/* Drop the sequences, partitioned tables whose keep[i] is false. */
void		catalog_keep_sequences(catalog *cat, const bool *keep);
void		catalog_keep_partitioned(catalog *cat, const bool *keep);

/* Index of the table with this OID, or -1. */
int			catalog_find_table(const catalog *cat, uint32_t oid);

#endif
