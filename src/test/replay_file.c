/*-------------------------------------------------------------------------
 *
 * replay_file.c
 *		The replay kind's file (see replay_source.c): its lines read and
 *		replayed into tables of rows, and, while streaming, into calls of
 *		the change sink.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "test/replay.h"

/*
 * replay_read_from: the bytes of the file from a position to its last newline
 * (empty when none); errors name the file.  The descriptor is closed
 * before anything can raise.
 */
char *
replay_read_from(TributarySource *src, const char *path, XLogRecPtr pos, Size *len)
{
	int			fd = open(path, O_RDONLY | PG_BINARY, 0);
	struct stat st;
	char	   *buf;
	ssize_t		got = 0;
	off_t		off = (off_t) (pos - 1);
	int			save_errno;

	if (fd < 0 || fstat(fd, &st) != 0)
	{
		save_errno = errno;
		if (fd >= 0)
			close(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read replay file \"%s\" of source \"%s\": %m", path, src->cfg.name)));
	}
	if (st.st_size > off)
	{
		buf = palloc(st.st_size - off + 1);
		got = pread(fd, buf, st.st_size - off, off);
	}
	else
		buf = palloc(1);
	save_errno = errno;
	close(fd);
	if (got < 0)
	{
		errno = save_errno;
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read replay file \"%s\" of source \"%s\": %m", path, src->cfg.name)));
	}
	/* whole lines only */
	while (got > 0 && buf[got - 1] != '\n')
		got--;
	buf[got] = '\0';
	*len = got;
	return buf;
}

/*
 * replay_find_table: a table of the state by "schema.table", or NULL.
 */
ReplayTable *
replay_find_table(ReplayState *rs, const char *name)
{
	ListCell   *lc;

	foreach(lc, rs->tables)
		if (strcmp(((ReplayTable *) lfirst(lc))->name, name) == 0)
			return (ReplayTable *) lfirst(lc);
	return NULL;
}

/*
 * replay_key_text: a row's key values joined by \x01: the order of snapshot
 * chunks (any total order serves, as long as it is always the same).
 */
char *
replay_key_text(ReplayTable *t, char **row)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < t->ncols; i++)
		if (t->iskey[i])
			appendStringInfo(&buf, "%s\x01", row[i] ? row[i] : "");
	return buf.data;
}

/*
 * find_row: the cell of the row whose key columns equal those of "row".
 */
static ListCell *
find_row(ReplayTable *t, char **row)
{
	char	   *want = replay_key_text(t, row);
	ListCell   *lc;

	foreach(lc, t->rows)
		if (strcmp(replay_key_text(t, (char **) lfirst(lc)), want) == 0)
			return lc;
	return NULL;
}

/*
 * bad_line: the error for a line the kind cannot read.
 */
static void
bad_line(TributarySource *src, const char *line, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("replay source \"%s\": %s", src->cfg.name, why),
			 errdetail("Line: %s", line)));
}

/*
 * announce: the table's columns to the sink, before its first change.
 */
static void
announce(ReplayTable *t, TributaryChangeSink *sink)
{
	TribRelation rel;
	char	   *dot = strchr(t->name, '.');

	rel.relid = t->relid;
	rel.nspname = pnstrdup(t->name, dot - t->name);
	rel.relname = dot + 1;
	rel.replident = 'f';
	rel.natts = t->ncols;
	rel.attrs = palloc0(sizeof(TribAttribute) * t->ncols);
	for (int i = 0; i < t->ncols; i++)
	{
		rel.attrs[i].name = t->colnames[i];
		rel.attrs[i].typoid = TEXTOID;
		rel.attrs[i].typmod = -1;
		rel.attrs[i].flags = t->iskey[i] ? TRIB_ATTR_KEY : 0;
	}
	sink->relation(sink, &rel);
	t->announced = true;
}

/*
 * tuple_of: a row as a tuple of text values (pointing into the row).
 */
static TribTuple *
tuple_of(ReplayTable *t, char **row)
{
	TribTuple  *tup = palloc(sizeof(TribTuple));

	tup->natts = t->ncols;
	tup->values = palloc(sizeof(TribValue) * t->ncols);
	for (int i = 0; i < t->ncols; i++)
	{
		tup->values[i].kind = row[i] ? TRIB_VALUE_TEXT : TRIB_VALUE_NULL;
		tup->values[i].data = row[i];
		tup->values[i].len = row[i] ? strlen(row[i]) : 0;
	}
	return tup;
}

/*
 * replay_line: one line of the file [start, end) into the state and, when
 * a sink is given, to it.
 */
void
replay_line(TributarySource *src, ReplayState *rs, char *line, XLogRecPtr start, XLogRecPtr end,
			TributaryChangeSink *sink)
{
	char	   *fields[1024];
	int			nfields = 0;
	char	   *p = line;
	ReplayTable *t = NULL;
	MemoryContext old;

	rs->pos = end;
	if (line[0] == '\0' || line[0] == '#')
	{
		if (sink && !rs->in_xact)
			sink->advance(sink, end, false, NULL);
		return;
	}
	for (;;)
	{
		char	   *tab = strchr(p, '\t');

		if (nfields == lengthof(fields))
			bad_line(src, line, "too many fields");
		fields[nfields++] = p;
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}

	if (strcmp(fields[0], "begin") == 0)
	{
		if (rs->in_xact)
			bad_line(src, line, "begin inside a transaction");
		rs->in_xact = true;
		if (sink)
			sink->begin(sink, start, GetCurrentTimestamp());
		return;
	}
	if (strcmp(fields[0], "commit") == 0)
	{
		if (!rs->in_xact)
			bad_line(src, line, "commit outside a transaction");
		rs->in_xact = false;
		if (sink)
			sink->commit(sink, start, end, GetCurrentTimestamp(), NULL);
		return;
	}
	if (nfields < 2)
		bad_line(src, line, "a record names its table");
	if (strcmp(fields[0], "table") == 0)
	{
		if (replay_find_table(rs, fields[1]) != NULL || strchr(fields[1], '.') == NULL || nfields < 3)
			bad_line(src, line, "a table is defined once, as schema.table with columns");
		old = MemoryContextSwitchTo(rs->cxt);
		t = palloc0(sizeof(ReplayTable));
		t->relid = list_length(rs->tables) + 1;
		t->name = pstrdup(fields[1]);
		t->ncols = nfields - 2;
		t->colnames = palloc(sizeof(char *) * t->ncols);
		t->coltypes = palloc(sizeof(char *) * t->ncols);
		t->iskey = palloc0(sizeof(bool) * t->ncols);
		for (int i = 0; i < t->ncols; i++)
		{
			char	   *col = pstrdup(fields[i + 2]);
			char	   *c1 = strchr(col, ':');
			char	   *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			if (c1 == NULL)
				bad_line(src, line, "a column is written name:type[:key]");
			*c1 = '\0';
			if (c2)
			{
				*c2 = '\0';
				t->iskey[i] = (strcmp(c2 + 1, "key") == 0);
			}
			t->colnames[i] = col;
			t->coltypes[i] = c1 + 1;
		}
		rs->tables = lappend(rs->tables, t);
		MemoryContextSwitchTo(old);
		if (sink && !rs->in_xact)
			sink->advance(sink, end, false, NULL);
		return;
	}

	t = replay_find_table(rs, fields[1]);
	if (t == NULL)
		bad_line(src, line, "no such table");
	if (!rs->in_xact)
		bad_line(src, line, "a change outside begin and commit");
	if (sink && !t->announced)
		announce(t, sink);
	if (strcmp(fields[0], "truncate") == 0)
	{
		t->rows = NIL;
		if (sink)
			sink->truncate(sink, 1, &t->relid, false);
		return;
	}
	if (strcmp(fields[0], "insert") == 0 || strcmp(fields[0], "update") == 0)
	{
		bool		insert = (fields[0][0] == 'i');
		char	  **row;
		ListCell   *cell;

		if (nfields - 2 != t->ncols)
			bad_line(src, line, "a row has a value for every column");
		old = MemoryContextSwitchTo(rs->cxt);
		row = palloc(sizeof(char *) * t->ncols);
		for (int i = 0; i < t->ncols; i++)
			row[i] = strcmp(fields[i + 2], "\\N") == 0 ? NULL : pstrdup(fields[i + 2]);
		MemoryContextSwitchTo(old);
		cell = find_row(t, row);
		if (insert && cell != NULL)
			bad_line(src, line, "duplicate key");
		if (!insert && cell == NULL)
			bad_line(src, line, "no row with this key");
		if (sink)
			sink->change(sink, insert ? TRIB_CHANGE_INSERT : TRIB_CHANGE_UPDATE, t->relid,
						 insert ? NULL : tuple_of(t, (char **) lfirst(cell)), tuple_of(t, row));
		old = MemoryContextSwitchTo(rs->cxt);
		if (insert)
			t->rows = lappend(t->rows, row);
		else
			lfirst(cell) = row;
		MemoryContextSwitchTo(old);
		return;
	}
	if (strcmp(fields[0], "delete") == 0)
	{
		char	  **probe = palloc0(sizeof(char *) * t->ncols);
		int			k = 2;
		ListCell   *cell;

		for (int i = 0; i < t->ncols; i++)
			if (t->iskey[i])
			{
				if (k >= nfields)
					bad_line(src, line, "a delete names every key value");
				probe[i] = fields[k++];
			}
		cell = find_row(t, probe);
		if (cell == NULL)
			bad_line(src, line, "no row with this key");
		if (sink)
			sink->change(sink, TRIB_CHANGE_DELETE, t->relid, tuple_of(t, (char **) lfirst(cell)), NULL);
		t->rows = list_delete_cell(t->rows, cell);
		return;
	}
	bad_line(src, line, "unknown record");
}

/*
 * replay_until: read the whole lines of the file after rs->pos (at most
 * max_lines of them, -1 for all) into the state; the number read.
 */
int
replay_until(TributarySource *src, const char *path, ReplayState *rs, int max_lines,
			 TributaryChangeSink *sink)
{
	Size		len;
	char	   *buf = replay_read_from(src, path, rs->pos, &len);
	char	   *p = buf;
	int			n = 0;

	while (p < buf + len && (max_lines < 0 || n < max_lines))
	{
		char	   *nl = strchr(p, '\n');
		XLogRecPtr	start = rs->pos;

		*nl = '\0';
		replay_line(src, rs, p, start, start + (nl + 1 - p), sink);
		p = nl + 1;
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(buf);
	return n;
}

/*
 * replay_new_state: an empty replay at the file's start.
 */
ReplayState *
replay_new_state(void)
{
	ReplayState *rs = palloc0(sizeof(ReplayState));

	rs->cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary replay source",
									ALLOCSET_SMALL_SIZES);
	rs->pos = 1;
	return rs;
}

/*
 * replay_free_state: a replay and everything it holds.
 */
void
replay_free_state(ReplayState *rs)
{
	if (rs)
		MemoryContextDelete(rs->cxt);
}
