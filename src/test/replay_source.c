/*-------------------------------------------------------------------------
 *
 * replay_source.c
 *		"replay": a test-only source kind that replays a file of changes.
 *		It exists to prove that a source kind plugs in through the
 *		connector registry alone: nothing in the worker, the snapshot or
 *		the stream layer knows it.  It is part of tributary_test.so and
 *		registers itself only when that library is preloaded
 *		(shared_preload_libraries = 'pg_tributary, tributary_test').
 *
 * The source is a text file named by the conninfo's dbname
 * ('dbname=/path/to/file').  One record per line, fields separated by
 * tabs; empty lines and lines starting with # are ignored:
 *
 *	table		schema.table	column:type[:key] ...
 *	begin
 *	insert		schema.table	value ...		(every column; \N is NULL)
 *	update		schema.table	value ...		(the new row; its key finds the old)
 *	delete		schema.table	key value ...
 *	truncate	schema.table
 *	commit
 *
 * Only whole lines count: a line whose newline is not written yet waits.
 * The source's state at a position is the file replayed up to there:
 * snapshots replay it, the stream reads the lines after.  A position is
 * 1 + the byte offset after a line (never 0, which the worker reads as
 * "no position"); it prints as an LSN.  Rows are kept in lists and found
 * by a linear search: this kind is for tests of a few thousand rows.
 * replay_file.c reads and replays the file; this file is the connector.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "change.h"
#include "source/connector.h"
#include "test/replay.h"
#include "test/test_module.h"

/* the normal connection: the file's path, and a snapshot's view */
typedef struct ReplayConn
{
	char	   *path;
	ReplayState *view;			/* between snapshot begin and end */
	StringInfoData copy;		/* the chunk copy_read hands out */
	bool		copy_pending;
} ReplayConn;

/*
 * replay_path: the file of a source: the conninfo's dbname.
 */
static char *
replay_path(const char *conninfo)
{
	const char *p = strstr(conninfo, "dbname=");
	const char *end;

	if (p == NULL)
		return NULL;
	p += strlen("dbname=");
	end = p + strcspn(p, " \t");
	return pnstrdup(p, end - p);
}

/*
 * replay_try_connect: "connect": the file must be readable.
 */
static char *
replay_try_connect(TributarySource *src, const char *appname)
{
	ReplayConn *c;
	char	   *path = replay_path(src->cfg.conninfo);

	if (path == NULL || access(path, R_OK) != 0)
		return psprintf("replay file \"%s\" is not readable", path ? path : "(no dbname)");
	c = palloc0(sizeof(ReplayConn));
	c->path = path;
	initStringInfo(&c->copy);
	src->conn = c;
	return NULL;
}

/*
 * replay_disconnect: forget the connection and any open view.
 */
static void
replay_disconnect(TributarySource *src)
{
	ReplayConn *c = (ReplayConn *) src->conn;

	if (c == NULL)
		return;
	replay_free_state(c->view);
	c->view = NULL;
	src->conn = NULL;
}

/*
 * current_state: the file replayed to its end, in the caller's context.
 */
static ReplayState *
current_state(TributarySource *src)
{
	ReplayState *rs = replay_new_state();

	replay_until(src, ((ReplayConn *) src->conn)->path, rs, -1, NULL);
	return rs;
}

/*
 * replay_describe_table: a table's columns and key as JSON, or NULL.
 */
static char *
replay_describe_table(TributarySource *src, const char *nsp, const char *rel)
{
	ReplayState *rs = current_state(src);
	ReplayTable *t = replay_find_table(rs, psprintf("%s.%s", nsp, rel));
	StringInfoData buf;
	bool		first = true;

	if (t == NULL)
	{
		replay_free_state(rs);
		return NULL;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"relkind\": \"r\", \"columns\": [");
	for (int i = 0; i < t->ncols; i++)
	{
		appendStringInfo(&buf, "%s{\"name\": ", i > 0 ? ", " : "");
		escape_json(&buf, t->colnames[i]);
		appendStringInfoString(&buf, ", \"pg_type\": ");
		escape_json(&buf, t->coltypes[i]);
		appendStringInfo(&buf, ", \"not_null\": %s}", t->iskey[i] ? "true" : "false");
	}
	appendStringInfoString(&buf, "], \"key\": [");
	for (int i = 0; i < t->ncols; i++)
		if (t->iskey[i])
		{
			appendStringInfoString(&buf, first ? "" : ", ");
			escape_json(&buf, t->colnames[i]);
			first = false;
		}
	appendStringInfoString(&buf, "]}");
	replay_free_state(rs);
	return buf.data;
}

/*
 * replay_list_tables: the file's tables as {schema, table} pairs.
 */
static List *
replay_list_tables(TributarySource *src)
{
	ReplayState *rs = current_state(src);
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, rs->tables)
	{
		char	   *name = pstrdup(((ReplayTable *) lfirst(lc))->name);
		char	  **pair = palloc(sizeof(char *) * 2);
		char	   *dot = strchr(name, '.');

		*dot = '\0';
		pair[0] = name;
		pair[1] = dot + 1;
		out = lappend(out, pair);
	}
	replay_free_state(rs);
	return out;
}

/*
 * replay_run_checks: the one prerequisite: the file reads.
 */
static void
replay_run_checks(TributarySource *src, List *tables, TributaryCheckEmit emit, void *arg)
{
	ReplayState *rs = current_state(src);

	emit(arg, "replay file", true,
		 psprintf("%d tables, position %X/%X", list_length(rs->tables), LSN_FORMAT_ARGS(rs->pos)), NULL);
	replay_free_state(rs);
}

/*
 * replay_snapshot_begin: a view: the file replayed to its current end.
 */
static void
replay_snapshot_begin(TributarySource *src)
{
	ReplayConn *c = (ReplayConn *) src->conn;

	replay_free_state(c->view);
	c->view = current_state(src);
}

/*
 * replay_snapshot_join: views cannot be shared; a helper's view is its
 * own (the kind declares TRIB_CAP_OWN_VIEWS).
 */
static void
replay_snapshot_join(TributarySource *src, const char *view)
{
	replay_snapshot_begin(src);
}

/*
 * replay_snapshot_end: drop the view.
 */
static void
replay_snapshot_end(TributarySource *src)
{
	ReplayConn *c = (ReplayConn *) src->conn;

	replay_free_state(c->view);
	c->view = NULL;
}

/*
 * view_table: a job table in the open view.
 */
static ReplayTable *
view_table(TributarySource *src, TributaryTable *jt)
{
	ReplayConn *c = (ReplayConn *) src->conn;
	ReplayTable *t = c->view ? replay_find_table(c->view, psprintf("%s.%s", jt->source_nsp, jt->source_rel)) : NULL;

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("replay source \"%s\" has no table %s.%s", src->cfg.name, jt->source_nsp, jt->source_rel)));
	return t;
}

/*
 * bound_key: the key text of a key bound (JSON object of key columns), or
 * NULL for none.
 */
static char *
bound_key(ReplayTable *t, const char *json)
{
	char	  **row;

	if (json == NULL)
		return NULL;
	row = palloc0(sizeof(char *) * t->ncols);
	for (int i = 0; i < t->ncols; i++)
		if (t->iskey[i])
			row[i] = TextDatumGetCString(DirectFunctionCall2(json_object_field_text,
															 CStringGetTextDatum(json),
															 CStringGetTextDatum(t->colnames[i])));
	return replay_key_text(t, row);
}

/*
 * cmp_text: qsort order of key texts.
 */
static int
cmp_text(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * replay_chunk_upper: the key of the rows-th row after "after", as JSON.
 */
static char *
replay_chunk_upper(TributarySource *src, TributaryTable *jt, const char *after, int64 rows)
{
	ReplayTable *t = view_table(src, jt);
	char	   *lower = bound_key(t, after);
	int			n = list_length(t->rows);
	char	  **keys = palloc(sizeof(char *) * Max(n, 1));
	int			nafter = 0;
	ListCell   *lc;

	foreach(lc, t->rows)
	{
		char	   *k = replay_key_text(t, (char **) lfirst(lc));

		if (lower == NULL || strcmp(k, lower) > 0)
			keys[nafter++] = k;
	}
	if (nafter < rows)
		return NULL;
	qsort(keys, nafter, sizeof(char *), cmp_text);
	/* the row whose key is the rows-th: write its key columns as JSON */
	foreach(lc, t->rows)
	{
		char	  **row = (char **) lfirst(lc);

		if (strcmp(replay_key_text(t, row), keys[rows - 1]) == 0)
		{
			StringInfoData buf;
			bool		first = true;

			initStringInfo(&buf);
			appendStringInfoChar(&buf, '{');
			for (int i = 0; i < t->ncols; i++)
				if (t->iskey[i])
				{
					appendStringInfoString(&buf, first ? "" : ", ");
					escape_json(&buf, t->colnames[i]);
					appendStringInfoString(&buf, ": ");
					escape_json(&buf, row[i]);
					first = false;
				}
			appendStringInfoChar(&buf, '}');
			return buf.data;
		}
	}
	elog(ERROR, "replay chunk bound not found");
	return NULL;
}

/*
 * copy_value: one value in COPY's text format.
 */
static void
copy_value(StringInfo out, const char *v)
{
	if (v == NULL)
	{
		appendStringInfoString(out, "\\N");
		return;
	}
	for (; *v; v++)
	{
		if (*v == '\\' || *v == '\t' || *v == '\n' || *v == '\r')
			appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, *v == '\t' ? 't' : *v == '\n' ? 'n' : *v == '\r' ? 'r' : *v);
	}
}

/*
 * replay_copy_begin: the read columns of the rows after "after" up to
 * "upto", in key order, as COPY text.
 */
static void
replay_copy_begin(TributarySource *src, TributaryTable *jt, const char *after, const char *upto,
				  bool binary)
{
	ReplayConn *c = (ReplayConn *) src->conn;
	ReplayTable *t = view_table(src, jt);
	char	   *lower = bound_key(t, after);
	char	   *upper = bound_key(t, upto);
	int		   *colidx = palloc(sizeof(int) * Max(jt->nread, 1));
	ListCell   *lc;

	if (binary)
		elog(ERROR, "replay sources copy in text");
	for (int r = 0; r < jt->nread; r++)
	{
		colidx[r] = -1;
		for (int i = 0; i < t->ncols; i++)
			if (strcmp(t->colnames[i], jt->read[r].name) == 0)
				colidx[r] = i;
		if (colidx[r] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("replay table %s has no column \"%s\"", t->name, jt->read[r].name)));
	}
	resetStringInfo(&c->copy);
	foreach(lc, t->rows)
	{
		char	  **row = (char **) lfirst(lc);
		char	   *k = replay_key_text(t, row);

		if ((lower && strcmp(k, lower) <= 0) || (upper && strcmp(k, upper) > 0))
			continue;
		for (int r = 0; r < jt->nread; r++)
		{
			if (r > 0)
				appendStringInfoChar(&c->copy, '\t');
			copy_value(&c->copy, row[colidx[r]]);
		}
		appendStringInfoChar(&c->copy, '\n');
	}
	c->copy_pending = true;
}

/*
 * replay_copy_read: the chunk in one block, then the end.
 */
static int
replay_copy_read(TributarySource *src, char **buf)
{
	ReplayConn *c = (ReplayConn *) src->conn;

	if (!c->copy_pending || c->copy.len == 0)
	{
		c->copy_pending = false;
		return -1;
	}
	c->copy_pending = false;
	*buf = c->copy.data;
	return c->copy.len;
}

/*
 * replay_current: the file's end (after its last whole line).
 */
static XLogRecPtr
replay_current(TributarySource *src)
{
	Size		len;
	char	   *buf = replay_read_from(src, ((ReplayConn *) src->conn)->path, 1, &len);

	pfree(buf);
	return (XLogRecPtr) len + 1;
}

/*
 * replay_fix_start: the stream starts at the file's end now; no view of
 * that point is exported (snapshots record their own).
 */
static void
replay_fix_start(TributarySource *src, const char *slot, List *tables, XLogRecPtr *start_lsn,
				 char **view)
{
	*start_lsn = replay_current(src);
	*view = NULL;
}

/*
 * replay_prepare: nothing to prepare.
 */
static void
replay_prepare(TributarySource *src, const char *slot, List *tables)
{
}

/*
 * replay_start: the stream's state: the file replayed up to the start.
 */
static void
replay_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn, const char *start_text,
			 List *tables, bool binary)
{
	ReplayState *rs = replay_new_state();
	Size		len;
	char	   *buf = replay_read_from(src, ((ReplayConn *) src->conn)->path, 1, &len);
	char	   *p = buf;

	/* replay the lines before the start without a sink */
	while (p < buf + len && rs->pos < start_lsn)
	{
		char	   *nl = strchr(p, '\n');
		XLogRecPtr	start = rs->pos;

		*nl = '\0';
		replay_line(src, rs, p, start, start + (nl + 1 - p), NULL);
		p = nl + 1;
	}
	pfree(buf);
	if (rs->pos != start_lsn)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("replay source \"%s\" has no line starting at %X/%X",
						src->cfg.name, LSN_FORMAT_ARGS(start_lsn))));
	src->stream = rs;
}

/*
 * replay_poll: the next lines written to the file, to the sink.
 */
static int
replay_poll(TributarySource *src, TributaryChangeSink *sink, int budget)
{
	return replay_until(src, ((ReplayConn *) src->conn)->path, (ReplayState *) src->stream,
						budget, sink);
}

/*
 * replay_socket: a file has no socket: the stream layer polls.
 */
static pgsocket
replay_socket(TributarySource *src)
{
	return PGINVALID_SOCKET;
}

/*
 * replay_close_stream: drop the stream's state.
 */
static void
replay_close_stream(TributarySource *src)
{
	replay_free_state((ReplayState *) src->stream);
	src->stream = NULL;
}

static const TributaryAdminMethods replay_admin = {
	.try_connect = replay_try_connect,
	.disconnect = replay_disconnect,
	.describe_table = replay_describe_table,
	.list_tables = replay_list_tables,
	.run_checks = replay_run_checks,
};

static const TributarySnapshotMethods replay_snapshot = {
	.begin = replay_snapshot_begin,
	.join = replay_snapshot_join,
	.end = replay_snapshot_end,
	.chunk_upper = replay_chunk_upper,
	.copy_begin = replay_copy_begin,
	.copy_read = replay_copy_read,
};

static const TributaryStreamMethods replay_stream = {
	.fix_start = replay_fix_start,
	.prepare = replay_prepare,
	.start = replay_start,
	.poll = replay_poll,
	.socket = replay_socket,
	.close = replay_close_stream,
};

static const TributaryPositionMethods replay_position = {
	.current = replay_current,
};

static const TributaryConnector replay_connector = {
	.kind = "replay",
	.caps = TRIB_CAP_OWN_VIEWS,
	.admin = &replay_admin,
	.snapshot = &replay_snapshot,
	.stream = &replay_stream,
	.position = &replay_position,
};

typedef void (*RegisterFn) (const TributaryConnector *connector);

/*
 * tributary_test_register_kinds: register the replay kind with
 * pg_tributary (looked up by name, so that this library loads without it
 * when pg_regress only wants its SQL functions).
 */
void
tributary_test_register_kinds(void)
{
	RegisterFn	reg = (RegisterFn) load_external_function("pg_tributary", "tributary_register_connector",
														  true, NULL);

	reg(&replay_connector);
}
