/*-------------------------------------------------------------------------
 *
 * mysql_tables.c
 *		The job tables of a MySQL binlog stream: TABLE_MAP events kept by
 *		table id, completed from information_schema where the binlog's
 *		optional metadata lacks names, signedness, charsets or ENUM/SET
 *		labels, and checked against the columns the job knows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "source/mysql_source.h"
#include <mariadb_rpl.h>
#include "source/mysql_stream_int.h"

#include "catalog.h"
#include "source/mysql_value.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/*
 * parse_labels: the labels of "enum('a','b''c')" or "set(...)".
 */
static void
parse_labels(const char *column_type, SchemaColumn *c)
{
	const char *p = strchr(column_type, '(');
	List	   *labels = NIL;
	ListCell   *lc;
	int			i = 0;

	if (p == NULL)
		return;
	p++;
	while (*p == '\'')
	{
		StringInfoData s;

		initStringInfo(&s);
		p++;
		while (*p)
		{
			if (*p == '\'' && p[1] == '\'')
			{
				appendStringInfoChar(&s, '\'');
				p += 2;
			}
			else if (*p == '\\' && p[1])
			{
				appendStringInfoChar(&s, p[1]);
				p += 2;
			}
			else if (*p == '\'')
			{
				p++;
				break;
			}
			else
				appendStringInfoChar(&s, *p++);
		}
		labels = lappend(labels, s.data);
		if (*p == ',')
			p++;
	}
	c->nlabels = list_length(labels);
	c->labels = palloc(sizeof(char *) * Max(c->nlabels, 1));
	foreach(lc, labels)
		c->labels[i++] = lfirst(lc);
}

/*
 * load_schema: a job table's columns from information_schema, on the query
 * connection.
 */
static void
load_schema(TributarySource *src, MyStream *st, StreamTable *e)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	int			n = 0;

	if (src->conn == NULL)
		tributary_source_connect(src, "pg_tributary");
	res = mysrc_query(src, psprintf("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME "
									"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
									"AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
									mysrc_quote(src, e->t->source_nsp),
									mysrc_quote(src, e->t->source_rel)));
	e->schema = palloc0(sizeof(SchemaColumn) * Max(mysql_num_rows(res), 1));
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		SchemaColumn *c = &e->schema[n++];

		c->name = pstrdup(row[0]);
		c->data_type = pstrdup(row[1]);
		c->is_unsigned = strstr(row[2], "unsigned") != NULL;
		c->binary = (strstr(row[1], "binary") != NULL || strstr(row[1], "blob") != NULL);
		c->encoding = myv_charset_encoding(row[3]);
		if (strcmp(row[1], "enum") == 0 || strcmp(row[1], "set") == 0)
			parse_labels(row[2], c);
	}
	mysql_free_result(res);
	e->nschema = n;
	MemoryContextSwitchTo(old);
}

/*
 * schema_column: the information_schema column of a name, or NULL.
 */
static SchemaColumn *
schema_column(StreamTable *e, const char *name)
{
	for (int i = 0; i < e->nschema; i++)
		if (strcmp(e->schema[i].name, name) == 0)
			return &e->schema[i];
	return NULL;
}

/*
 * same_columns: whether two table maps have the same columns.
 */
static bool
same_columns(const BinlogTableMap *a, const BinlogTableMap *b)
{
	if (a->ncolumns != b->ncolumns || a->has_names != b->has_names)
		return false;
	for (int i = 0; i < a->ncolumns; i++)
	{
		if (a->columns[i].type != b->columns[i].type || a->columns[i].meta != b->columns[i].meta)
			return false;
		if (a->has_names && strcmp(a->columns[i].name, b->columns[i].name) != 0)
			return false;
	}
	return true;
}

/*
 * schema_mismatch: stop on a TABLE_MAP that does not match what the job
 * knows.
 */
static void
pg_attribute_noreturn()
schema_mismatch(TributarySource *src, MyStream *st, StreamTable *e, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("source table [%s] changed without a DDL statement in the binlog", e->key),
			 errdetail("%s At %s:%u of source \"%s\".", detail, mypos_file_name(st->file_seq),
					   st->event ? st->event->next_event_pos : 0, src->cfg.name),
			 errhint("Resynchronize the table: drop it from the job and add it again.")));
}

/*
 * complete_map: fill in names, signedness, charsets and labels the
 * TABLE_MAP lacks from information_schema, and check the columns against
 * the job's.
 */
static void
complete_map(TributarySource *src, MyStream *st, MapEntry *m)
{
	BinlogTableMap *map = &m->map;
	StreamTable *e = m->table;
	TributaryTable *t = e->t;

	if (e->nschema < 0)
		load_schema(src, st, e);
	if (!map->has_names)
	{
		if (e->nschema != map->ncolumns)
			schema_mismatch(src, st, e,
							psprintf("The binlog has %d columns for it, information_schema %d, and without binlog_row_metadata = FULL the binlog has no column names.",
									 map->ncolumns, e->nschema));
		for (int i = 0; i < map->ncolumns; i++)
			map->columns[i].name = MemoryContextStrdup(m->cxt, e->schema[i].name);
	}
	m->encodings = MemoryContextAlloc(m->cxt, sizeof(int) * map->ncolumns);
	for (int i = 0; i < map->ncolumns; i++)
	{
		BinlogColumn *col = &map->columns[i];
		SchemaColumn *sc = schema_column(e, col->name);

		m->encodings[i] = sc ? sc->encoding : -1;
		if (m->encodings[i] != -2)
			myv_prepare_conversion(m->encodings[i]);
		col->want_binary = true;
		if (!col->has_signedness && sc)
			col->is_unsigned = sc->is_unsigned;
		if (col->collation == 0 && sc)
			col->collation = sc->binary ? BL_COLLATION_BINARY : 45;
		if ((col->type == MT_ENUM || col->type == MT_SET) && col->labels == NULL && sc)
		{
			col->nlabels = sc->nlabels;
			col->labels = sc->labels;
		}
		if (m->encodings[i] == -2 && col->collation != BL_COLLATION_BINARY)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of source table [%s] has a character set pg_tributary cannot convert",
							col->name, e->key),
					 errhint("Convert the column to utf8mb4 on the source.")));
	}

	/* a column the job does not know, while it maps every column */
	if (t->all_columns && !e->lenient)
		for (int i = 0; i < map->ncolumns; i++)
		{
			bool		known = false;

			for (int c = 0; c < t->ncolumns && !known; c++)
				known = (t->columns[c].source && strcmp(t->columns[c].source, map->columns[i].name) == 0);
			if (!known)
				schema_mismatch(src, st, e,
								psprintf("The binlog has column \"%s\", which the job does not know.",
										 map->columns[i].name));
		}
}

/*
 * mystream_on_table_map: remember a TABLE_MAP of a job table.
 */
void
mystream_on_table_map(TributarySource *src, MyStream *st, BinlogEvent *ev)
{
	MemoryContext cxt = AllocSetContextCreate(st->cxt, "tributary table map", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	BinlogTableMap map;
	char	   *err;
	char		key[2 * 64 + 2];
	StreamTable *e;
	MapEntry   *m;
	bool		found;

	if (!bl_read_table_map(ev, &st->fmt, &map, &err))
		mystream_error(src, st, ev->log_pos, err);
	MemoryContextSwitchTo(old);
	snprintf(key, sizeof(key), "%s.%s", map.db, map.table);
	e = hash_search(st->tables, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		/* not a job table: forget any older map of the id */
		m = hash_search(st->maps, &map.table_id, HASH_FIND, NULL);
		if (m)
		{
			MemoryContextDelete(m->cxt);
			hash_search(st->maps, &map.table_id, HASH_REMOVE, NULL);
		}
		MemoryContextDelete(cxt);
		return;
	}
	m = hash_search(st->maps, &map.table_id, HASH_ENTER, &found);
	if (found && m->table == e && same_columns(&m->map, &map))
	{
		MemoryContextDelete(cxt);
		return;
	}
	if (found)
		MemoryContextDelete(m->cxt);
	m->cxt = cxt;
	m->map = map;
	m->table = e;
	m->announced = false;
	complete_map(src, st, m);
}
