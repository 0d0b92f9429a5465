/*-------------------------------------------------------------------------
 *
 * ddl.c
 *		Schema changes on the source, by the job's ddl policy.
 *
 * A connector that sees DDL on a job table in its change stream passes it
 * to the sink's ddl call: the kind, the source table, the statement and,
 * where it tells them, the column and the new name.  The kinds are those
 * of the job option ddl: create_table, drop_table, rename_table,
 * truncate_table, add_column, drop_column, rename_column,
 * alter_column_type, attach_partition, detach_partition, other.  The
 * option is one policy for every kind or an object by kind; a kind it
 * does not name is 'error':
 *
 *	error	stop the job: an error naming the table, the statement and the
 *			source position (the default: nothing is ever silently lost)
 *	ignore	go on; the target keeps its columns
 *	alert	go on, with a WARNING and a tributary.errors row
 *	apply	add_column / drop_column: the target gets the same change
 *			(the new column's type is mapped from the source's current
 *			definition) and the job's column list follows; truncate_table:
 *			the target is truncated; rename_column: the target column is
 *			renamed and the job's columns, key and map follow;
 *			alter_column_type: the target column takes the mapped type
 *			(apply_type); drop_table: the table leaves the job;
 *			rename_table: the job follows the new name (both restart the
 *			stream); attach_partition / detach_partition: the table is
 *			copied again; other: passed when it changes neither columns
 *			nor rows (TRIB_DDL_INERT), else it cannot be applied.
 *
 * PostgreSQL sources log no DDL: tributary_ddl_from_relation compares each
 * new table definition the stream sends with what the job knows.
 *
 * Runs in the local transaction that also holds the source transaction's
 * checkpoint, so an applied change happens exactly once.  A table whose DDL
 * passed is marked (jt_ddl_accepted): columns the job does not copy are
 * from then on expected in its change stream.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "access/transam.h"
#include "utils/memutils.h"

#include "ddl.h"
#include "pg_tributary.h"
#include "security.h"

static void apply_rename(TributaryApplyState *apply, TributaryTable *t, const char *old, const char *new);
static const char *job_column(TributaryTable *t, const char *name);

/*
 * ddl_policy: the job's policy for a kind of DDL.
 */
static char *
ddl_policy(TributaryJob *job, const char *kind)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2] = {Int32GetDatum(job->id), CStringGetTextDatum(kind)};
	char	   *policy = NULL;
	TributaryUserSave us = tributary_catalog_enter();

	if (SPI_execute_with_args("SELECT CASE jsonb_typeof(job_options->'ddl') "
							  "WHEN 'string' THEN job_options->>'ddl' "
							  "ELSE job_options->'ddl'->>$2 END "
							  "FROM tributary.job WHERE job_id = $1",
							  2, types, args, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		policy = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, CurrentMemoryContext);
	tributary_catalog_leave(us);
	return policy ? policy : pstrdup("error");
}

/*
 * find_job_table: the job table of a "db.table" name.
 */
static TributaryTable *
find_job_table(TributaryApplyState *apply, const char *name)
{
	ListCell   *lc;

	foreach(lc, apply->tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		if (strcmp(psprintf("%s.%s", t->source_nsp, t->source_rel), name) == 0)
			return t;
	}
	return NULL;
}

/*
 * is_key_column: whether a source column is part of the table's key.
 */
static bool
is_key_column(TributaryTable *t, const char *column)
{
	ListCell   *lc;

	foreach(lc, t->key_columns)
		if (strcmp((char *) lfirst(lc), column) == 0)
			return true;
	return false;
}

/*
 * tributary_ddl_exec: a statement on a target that must succeed, run as
 * the job's owner (the worker's identity).
 */
void
tributary_ddl_exec(const char *sql, int nargs, Oid *types, Datum *args)
{
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0) < 0)
		elog(ERROR, "statement failed: %s", sql);
}

/*
 * tributary_ddl_exec_catalog: a catalog statement that must succeed
 * (security.c).
 */
void
tributary_ddl_exec_catalog(const char *sql, int nargs, Oid *types, Datum *args)
{
	TributaryUserSave us = tributary_catalog_enter();

	tributary_ddl_exec(sql, nargs, types, args);
	tributary_catalog_leave(us);
}

/*
 * target_type: this database's spelling of a type the source's
 * description names (never the description's text itself, which goes
 * into a statement).
 */
static char *
target_type(const char *type, const char *column)
{
	Oid			typid;
	int32		typmod;

	tributary_parse_type(type, NULL, &typid, &typmod);
	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the new source column \"%s\" has type %s, which this database does not have", column, type),
				 errhint("Create the type, or set the job option ddl for add_column to ignore.")));
	return format_type_with_typemod(typid, typmod);
}

/*
 * named_column: the source's spelling of a column a statement names, among
 * names (the source's columns): the same name, else one equal but for case
 * (MySQL compares column names without regard to case); NULL when none.
 */
static const char *
named_column(List *names, const char *column)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), column) == 0)
			return (char *) lfirst(lc);
	foreach(lc, names)
		if (pg_strcasecmp((char *) lfirst(lc), column) == 0)
			return (char *) lfirst(lc);
	return NULL;
}

/*
 * apply_columns: add_column / drop_column: make the target's columns and
 * the job's column list follow the source table's current columns; only
 * for the column the statement names, when it names one.  The source's
 * current definition may already hold later changes (the job lags behind
 * them): a named column is added only if the source still has it (else the
 * job stops: its type is not known any more), and only a named column is
 * dropped (a column renamed later keeps its data until its rename).
 */
static void
apply_columns(TributaryApplyState *apply, TributaryTable *t, const char *kind, const char *column)
{
	const char *named = column;	/* as the statement names it */
	TributarySource *src = apply->job->source;
	char	   *json = src->connector->admin->describe_table(src, t->source_nsp, t->source_rel);
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	/* the job's table outlives this stream attempt: its strings go with it */
	MemoryContext cxt = GetMemoryChunkContext(t);
	List	   *names = NIL;
	List	   *pgtypes = NIL;
	List	   *defaults = NIL;
	int			n;

	if (json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table [%s.%s] does not exist any more", t->source_nsp, t->source_rel)));
	args[0] = CStringGetTextDatum(json);
	if (SPI_execute_with_args("SELECT c->>'name', c->>'pg_type', c->>'default' FROM jsonb_array_elements($1::jsonb->'columns') c",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the source table's description");
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		names = lappend(names, spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, CurrentMemoryContext));
		pgtypes = lappend(pgtypes, spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, CurrentMemoryContext));
		defaults = lappend(defaults, spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, CurrentMemoryContext));
	}

	if (strcmp(kind, "add_column") == 0)
	{
		ListCell   *ln;
		ListCell   *lt;
		ListCell   *ld;

		/* the source's spelling of the named column (none to add when the job has it) */
		if (named != NULL && job_column(t, named) != NULL)
			names = NIL;
		else if (named != NULL && (column = named_column(names, named)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot apply the new column \"%s\" of source table [%s.%s]: the source table has no such column any more",
							named, t->source_nsp, t->source_rel),
					 errdetail("A later statement on the source dropped or renamed it, so its type is not known here."),
					 errhint("Take the table out of the job and add it again (tributary.remove_table, tributary.add_table), then start the job over with tributary.restart_job(job, false).")));
		forthree(ln, names, lt, pgtypes, ld, defaults)
		{
			char	   *name = lfirst(ln);
			bool		known = false;
			char	   *def = lfirst(ld);
			char	   *def_sql = "";

			if (named != NULL && strcmp(name, column) != 0)
				continue;
			for (int c = 0; c < t->ncolumns && !known; c++)
				known = (t->columns[c].source && strcmp(t->columns[c].source, name) == 0);
			if (known)
				continue;

			/*
			 * The source fills existing rows with the column's default and
			 * logs no row for it: the target must do the same.  Constants
			 * only; an expression default needs a resync.
			 */
			if (def != NULL && pg_strcasecmp(def, "NULL") != 0)
			{
				bool		number = (strspn(def, "-+.0123456789eE") == strlen(def));
				size_t		dl = strlen(def);

				if (number)
					def_sql = psprintf(" DEFAULT %s", def);
				else if (dl >= 2 && def[0] == '\'' && def[dl - 1] == '\'')
					def_sql = psprintf(" DEFAULT %s", quote_literal_cstr(pnstrdup(def + 1, dl - 2)));
				else
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot apply the new column \"%s\" of source table [%s.%s]: its default is the expression %s",
									name, t->source_nsp, t->source_rel, def),
							 errhint("Resynchronize the table, or set the job option ddl for add_column to ignore.")));
			}
			tributary_ddl_exec(psprintf("ALTER TABLE %s ADD COLUMN %s %s%s",
						  quote_qualified_identifier(t->target_nsp, t->target_rel),
						  quote_identifier(name), target_type(lfirst(lt), name), def_sql), 0, NULL, NULL);
			args[0] = CStringGetTextDatum(name);
			args[1] = Int32GetDatum(t->id);
			tributary_ddl_exec_catalog("UPDATE tributary.job_table SET jt_columns = jt_columns || "
				 "jsonb_build_array(jsonb_build_object('target', $1, 'source', $1)) WHERE jt_id = $2",
				 2, types, args);
			t->columns = repalloc(t->columns, sizeof(TributaryColumn) * (t->ncolumns + 1));
			t->columns[t->ncolumns].target = MemoryContextStrdup(cxt, name);
			t->columns[t->ncolumns].source = MemoryContextStrdup(cxt, name);
			t->columns[t->ncolumns].expr = NULL;
			t->ncolumns++;
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" added column \"%s\" to %s", apply->job->name, name,
							quote_qualified_identifier(t->target_nsp, t->target_rel))));
		}
	}
	else
	{
		int			keep = 0;

		for (int c = 0; c < t->ncolumns; c++)
		{
			ListCell   *ln;
			bool		exists = (t->columns[c].source == NULL);

			foreach(ln, names)
				if (t->columns[c].source && strcmp(t->columns[c].source, lfirst(ln)) == 0)
					exists = true;
			/*
			 * a named drop drops that column only, and drops it even when
			 * the source has a column of that name now (added again since,
			 * maybe with another type: its own add_column follows)
			 */
			if (named != NULL)
				exists = (t->columns[c].source == NULL || t->columns[c].source != job_column(t, named));
			if (exists)
			{
				t->columns[keep++] = t->columns[c];
				continue;
			}
			if (is_key_column(t, t->columns[c].source))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("source table [%s.%s] dropped its key column \"%s\"",
								t->source_nsp, t->source_rel, t->columns[c].source),
						 errhint("Resynchronize the table with tributary.resync_table(job, table).")));
			tributary_ddl_exec(psprintf("ALTER TABLE %s DROP COLUMN %s",
						  quote_qualified_identifier(t->target_nsp, t->target_rel),
						  quote_identifier(t->columns[c].target)), 0, NULL, NULL);
			args[0] = CStringGetTextDatum(t->columns[c].target);
			args[1] = Int32GetDatum(t->id);
			tributary_ddl_exec_catalog("UPDATE tributary.job_table SET jt_columns = (SELECT coalesce(jsonb_agg(c ORDER BY o), '[]') "
				 "FROM jsonb_array_elements(jt_columns) WITH ORDINALITY x(c, o) WHERE c->>'target' <> $1) "
				 "WHERE jt_id = $2", 2, types, args);
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" dropped column \"%s\" of %s", apply->job->name,
							t->columns[c].target,
							quote_qualified_identifier(t->target_nsp, t->target_rel))));
		}
		t->ncolumns = keep;
	}
}

/*
 * mark_accepted: a table whose DDL passed: columns the job does not copy
 * are expected in its changes from now on.
 */
static void
mark_accepted(TributaryTable *t)
{
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(t->id);

	tributary_ddl_exec_catalog("UPDATE tributary.job_table SET jt_ddl_accepted = true WHERE jt_id = $1", 1, &type, &arg);
	t->all_columns = false;
}

/*
 * ddl_act: the job's ddl policy for a change of a job table: error stops
 * the job, alert warns and records it, ignore passes; true when the
 * policy is apply, which only a kind that can_apply may have.  Inside
 * SPI_connect.
 */
static bool
ddl_act(TributaryApplyState *apply, const char *kind, const char *table, const char *statement,
		XLogRecPtr position, bool can_apply)
{
	TributaryJob *job = apply->job;
	char	   *where = tributary_position_out(job->source, position);
	char	   *policy = ddl_policy(job, kind);

	if (strcmp(policy, "apply") == 0 && !can_apply && strcmp(kind, "rename_table") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source table [%s] changed: %s", table, statement),
				 errdetail("The statement renames tables in a chain or a swap (a new name renamed again, or a job table's name given to another table), which the job cannot follow table by table. Source position %s.",
						   where),
				 errhint("Resynchronize the job's tables under their new names (remove_table, add_table), or set the job option ddl for rename_table to ignore or alert.")));
	if (strcmp(policy, "apply") == 0 && !can_apply)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source table [%s] changed: %s", table, statement),
				 errdetail("The job's ddl policy for %s is apply, which pg_tributary can do for add_column, drop_column, rename_column, alter_column_type, truncate_table, drop_table and rename_table, for other statements that change neither columns nor rows (indexes, CHECK constraints, column defaults, table options), and for attach_partition and detach_partition in jobs that copy tables, only. Source position %s.",
						   kind, where),
				 errhint("Set the job option ddl for %s to ignore or alert, or resynchronize the table.", kind)));
	if (strcmp(policy, "error") == 0 && strcmp(kind, "drop_table") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table [%s] changed: %s", table, statement),
				 errdetail("The change (%s) is at source position %s; the job's ddl policy for it is error.",
						   kind, where),
				 errhint("Take the table out of the job with tributary.remove_table(), or, when the source has it again, copy it again with tributary.resync_table(); then start the job again.")));
	if (strcmp(policy, "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table [%s] changed: %s", table, statement),
				 errdetail("The change (%s) is at source position %s; the job's ddl policy for it is error.",
						   kind, where),
				 errhint("Set the job option ddl (for example {\"ddl\": {\"%s\": \"ignore\"}}) and start the job again, or resynchronize the table.",
						 kind)));
	if (strcmp(policy, "alert") == 0)
	{
		Oid			types[3] = {INT4OID, TEXTOID, TEXTOID};
		Datum		args[3] = {Int32GetDatum(job->id),
			CStringGetTextDatum(psprintf("source table [%s] changed: %s", table, statement)),
		CStringGetTextDatum(psprintf("The change (%s) is at source position %s; the job's ddl policy for it is alert.", kind, where))};

		ereport(WARNING,
				(errmsg("pg_tributary job \"%s\": source table [%s] changed: %s", job->name, table, statement),
				 errdetail("The change (%s) is at source position %s; the job goes on (ddl policy alert).", kind, where)));
		tributary_ddl_exec_catalog("INSERT INTO tributary.error_log (err_job_id, err_run_id, err_sqlstate, err_message, err_detail) "
			 "VALUES ($1, (SELECT max(run_id) FROM tributary.run WHERE run_job_id = $1), '01000', $2, $3)",
			 3, types, args);
	}
	return strcmp(policy, "apply") == 0;
}

/*
 * job_column: the job's name for a source column of t that a statement
 * names: the same name, else one equal but for case (MySQL compares
 * column names without regard to case); NULL when the job does not copy
 * it.
 */
static const char *
job_column(TributaryTable *t, const char *name)
{
	if (name == NULL)
		return NULL;
	for (int c = 0; c < t->ncolumns; c++)
		if (t->columns[c].source && strcmp(t->columns[c].source, name) == 0)
			return t->columns[c].source;
	for (int c = 0; c < t->ncolumns; c++)
		if (t->columns[c].source && pg_strcasecmp(t->columns[c].source, name) == 0)
			return t->columns[c].source;
	return NULL;
}

/*
 * type_error_context: names the change a failed ALTER COLUMN ... TYPE
 * made (the string is prepared before).
 */
static void
type_error_context(void *arg)
{
	errcontext("%s", (const char *) arg);
}

/*
 * apply_type: alter_column_type: the target column that source column
 * "column" of t is copied into takes the type the source column maps to
 * now (new_type: the type as the stream gave it, NULL to ask the source
 * for its description), its values converted by a cast (USING).  Widening
 * conversions always succeed; one the values do not survive fails with
 * PostgreSQL's error, which stops the job before anything after the
 * change is applied.  A column the job does not copy, or copies into a
 * column of that type already, needs nothing; nor does one the source
 * has no more (the description is the source's now: a job behind meets
 * the later change afterwards).
 */
static void
apply_type(TributaryApplyState *apply, TributaryTable *t, const char *column, const char *new_type)
{
	const char *target_col = NULL;
	char	   *type;
	char	   *current;
	char	   *target = quote_qualified_identifier(t->target_nsp, t->target_rel);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	ErrorContextCallback errcb;

	for (int c = 0; c < t->ncolumns; c++)
		if (t->columns[c].source && strcmp(t->columns[c].source, column) == 0)
			target_col = t->columns[c].target;
	if (target_col == NULL)
		return;
	if (new_type == NULL)
	{
		TributarySource *src = apply->job->source;
		char	   *json = src->connector->admin->describe_table(src, t->source_nsp, t->source_rel);

		if (json == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("source table [%s.%s] does not exist any more", t->source_nsp, t->source_rel)));
		args[0] = CStringGetTextDatum(json);
		args[1] = CStringGetTextDatum(column);
		if (SPI_execute_with_args("SELECT c->>'pg_type' FROM jsonb_array_elements($1::jsonb->'columns') c "
								  "WHERE c->>'name' = $2", 2, types, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the source table's description");
		if (SPI_processed != 1)
		{
			/* dropped or renamed since (a job behind the source): that change comes later */
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" leaves the type of column \"%s\" of %s: the source table has no column \"%s\" now",
							apply->job->name, target_col, quote_qualified_identifier(t->target_nsp, t->target_rel),
							column)));
			return;
		}
		new_type = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, CurrentMemoryContext);
	}
	type = target_type(new_type, column);
	args[0] = CStringGetTextDatum(target);
	args[1] = CStringGetTextDatum(target_col);
	if (SPI_execute_with_args("SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
							  "WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the type of column \"%s\" of %s", target_col, target);
	current = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, CurrentMemoryContext);
	if (strcmp(current, type) == 0)
		return;
	errcb.callback = type_error_context;
	errcb.arg = psprintf("changing the type of column \"%s\" of %s from %s to %s (ddl apply of alter_column_type)",
						 target_col, target, current, type);
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	tributary_ddl_exec(psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", target, quote_identifier(target_col),
				  type, quote_identifier(target_col), type), 0, NULL, NULL);
	error_context_stack = errcb.previous;
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" changed the type of column \"%s\" of %s from %s to %s",
					apply->job->name, target_col, target, current, type)));
}

/*
 * tributary_ddl_handle: act on a source statement that changed a job
 * table (a sink ddl call) by the job's ddl policy.  column and new_name:
 * the column a rename or type change names, and its new name, or a
 * renamed table's new name ("db.table"), where the source tells (else
 * NULL: such a change cannot be applied).  flags TRIB_DDL_INERT: an
 * "other" statement that changes neither columns nor rows, which apply
 * passes (the target's indexes and defaults are the DBA's).  Runs inside
 * the local transaction.  Returns true when the job's tables changed (a
 * table renamed or dropped): the stream must start again once this
 * commits.
 */
bool
tributary_ddl_handle(TributaryApplyState *apply, const char *kind, const char *table,
					 const char *statement, XLogRecPtr position, const char *column,
					 const char *new_name, uint32 flags)
{
	bool		inert = (strcmp(kind, "other") == 0 && (flags & TRIB_DDL_INERT) != 0);
	TributaryTable *t = find_job_table(apply, table);
	bool		can_apply = (strcmp(kind, "add_column") == 0 || strcmp(kind, "drop_column") == 0 ||
							 strcmp(kind, "truncate_table") == 0 || strcmp(kind, "drop_table") == 0 ||
							 (strcmp(kind, "rename_table") == 0 && new_name != NULL) ||
							 (strcmp(kind, "alter_column_type") == 0 && column != NULL) ||
							 (strcmp(kind, "rename_column") == 0 && column != NULL && new_name != NULL) ||
							 inert);
	bool		restart = false;

	SPI_connect();
	if (ddl_act(apply, kind, table, statement, position, can_apply) && t != NULL)
	{
		const char *known = job_column(t, column);

		if (strcmp(kind, "drop_table") == 0)
		{
			tributary_ddl_drop_table(apply, t);
			restart = true;
		}
		else if (strcmp(kind, "rename_table") == 0)
		{
			tributary_ddl_rename_table(apply, t, new_name);
			restart = true;
		}
		else if (strcmp(kind, "truncate_table") == 0)
			tributary_ddl_truncate_table(apply, t);
		else if (strcmp(kind, "alter_column_type") == 0)
		{
			if (known)
				apply_type(apply, t, known, NULL);
		}
		else if (strcmp(kind, "rename_column") == 0)
		{
			/* MySQL's CHANGE may give the column another type as well */
			if (known)
			{
				apply_rename(apply, t, known, new_name);
				apply_type(apply, t, new_name, NULL);
			}
		}
		else if (inert)
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" passes a statement on source table [%s] that changes neither its columns nor its rows: %s",
							apply->job->name, table, statement)));
		else
			apply_columns(apply, t, kind, column);
	}
	/* an inert statement leaves the table's columns as the job knows them */
	if (t != NULL && !restart && !inert)
		mark_accepted(t);
	SPI_finish();
	return restart;
}

/*
 * tributary_ddl_parts: job table t changed outside the log (seen by
 * part_watch.c: kind attach_partition or detach_partition, its leaf
 * partitions; drop_table, the table itself dropped or created again):
 * act by the job's ddl policy.  apply copies the table again when
 * copy_on_apply, as resync_table does (the launcher replaces the worker,
 * whose next run copies it in a view of its own and records what it
 * saw); otherwise the new value is recorded in catalog column "column"
 * (jt_source_parts or jt_source_oid), as for a NULL kind (nothing to act
 * on).  A cdc job copies nothing, so apply cannot serve
 * it.  Runs inside a local transaction.  Returns true when the table is
 * to be copied again.
 */
bool
tributary_ddl_parts(TributaryApplyState *apply, TributaryTable *t, const char *kind,
					const char *statement, XLogRecPtr position, const char *column,
					const char *value, bool copy_on_apply)
{
	TributaryJob *job = apply->job;
	char	   *table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2] = {Int32GetDatum(t->id), CStringGetTextDatum(value)};
	bool		resync = false;

	Assert(strcmp(column, "jt_source_parts") == 0 || strcmp(column, "jt_source_oid") == 0);
	SPI_connect();
	if (kind != NULL &&
		ddl_act(apply, kind, table, statement, position, !copy_on_apply || strcmp(job->mode, "cdc") != 0) &&
		copy_on_apply)
	{
		tributary_ddl_exec_catalog("SELECT tributary._copy_table_again($1, true)", 1, types, args);
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" copies source table [%s] again: %s",
						job->name, table, statement)));
		resync = true;
	}
	else
		/* column: one of the two names above, never text from elsewhere */
		tributary_ddl_exec_catalog(psprintf("UPDATE tributary.job_table SET %s = $2 WHERE jt_id = $1", column), 2, types, args);
	SPI_finish();
	return resync;
}

/*
 * apply_rename: a source column of t was renamed: the job's column list,
 * key and column map follow it, and the target column is renamed too when
 * it has the source's name (no column map renamed it).
 */
static void
apply_rename(TributaryApplyState *apply, TributaryTable *t, const char *old, const char *new)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		args[3] = {CStringGetTextDatum(old), CStringGetTextDatum(new), Int32GetDatum(t->id)};
	ListCell   *lc;

	for (int c = 0; c < t->ncolumns; c++)
	{
		if (t->columns[c].source == NULL || strcmp(t->columns[c].source, old) != 0)
			continue;
		if (strcmp(t->columns[c].target, old) == 0 && !t->mapped)
		{
			tributary_ddl_exec(psprintf("ALTER TABLE %s RENAME COLUMN %s TO %s",
						  quote_qualified_identifier(t->target_nsp, t->target_rel),
						  quote_identifier(old), quote_identifier(new)), 0, NULL, NULL);
			t->columns[c].target = MemoryContextStrdup(GetMemoryChunkContext(t), new);
		}
		t->columns[c].source = MemoryContextStrdup(GetMemoryChunkContext(t), new);
	}
	foreach(lc, t->key_columns)
		if (strcmp((char *) lfirst(lc), old) == 0)
			lfirst(lc) = MemoryContextStrdup(GetMemoryChunkContext(t), new);
	tributary_ddl_exec_catalog("UPDATE tributary.job_table SET "
				 "jt_columns = (SELECT jsonb_agg(CASE WHEN c->>'source' = $1 THEN "
				 "   jsonb_set(CASE WHEN c->>'target' = $1 AND jt_column_map IS NULL "
				 "                  THEN jsonb_set(c, '{target}', to_jsonb($2)) ELSE c END, '{source}', to_jsonb($2)) "
				 "   ELSE c END ORDER BY o) FROM jsonb_array_elements(jt_columns) WITH ORDINALITY x(c, o)), "
				 "jt_key_columns = array_replace(jt_key_columns, $1, $2), "
				 "jt_column_map = (SELECT jsonb_object_agg(k, CASE WHEN v = to_jsonb($1) THEN to_jsonb($2) ELSE v END) "
				 "                  FROM jsonb_each(jt_column_map) e(k, v)) "
				 "WHERE jt_id = $3", 3, types, args);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" follows the rename of column \"%s\" of source table [%s.%s] to \"%s\"",
					apply->job->name, old, t->source_nsp, t->source_rel, new)));
}

/*
 * column_known: whether the job copies source column name of t.
 */
static bool
column_known(TributaryTable *t, const char *name)
{
	for (int c = 0; c < t->ncolumns; c++)
		if (t->columns[c].source && strcmp(t->columns[c].source, name) == 0)
			return true;
	return false;
}

/*
 * msg_has: the index of a column in a relation message, or -1.
 */
static int
msg_has(TribRelation *msg, const char *name)
{
	for (int i = 0; i < msg->natts; i++)
		if (strcmp(msg->attrs[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * type_text: a type OID of the source as a message shows it (built-in
 * types by name; the OID of another type means nothing here).
 */
static const char *
type_text(Oid typoid, int32 typmod)
{
	return typoid < FirstNormalObjectId ? format_type_with_typemod(typoid, typmod) : "a user-defined type";
}

/*
 * tributary_ddl_from_relation: a source whose stream reports schema changes
 * only as new relation definitions (TRIB_CAP_RELATION_DDL: PostgreSQL)
 * sent one for a job table.  It is compared with the columns the job
 * copies and, for types, with the table's previous definition in this
 * stream (prev may be NULL), and each difference is handled by the job's
 * ddl policy like a statement (tributary_ddl_handle):
 *
 *	add_column			a column the job does not know (only for a table
 *						copied whole: with a column map, other columns are
 *						not the job's)
 *	drop_column			a column the job copies is gone
 *	rename_column		exactly one gone and one new column at the same
 *						place (names are all a relation message has)
 *	alter_column_type	a column's type differs from the previous
 *						definition
 *
 * Runs in the local transaction, before the changes that use the new
 * definition: the policy acts exactly once with them.
 */
void
tributary_ddl_from_relation(TributaryApplyState *apply, TribRelation *msg, Oid *prev_types,
							int32 *prev_typmods, char **prev_names, int prev_natts, XLogRecPtr position)
{
	char	   *table = psprintf("%s.%s", msg->nspname, msg->relname);
	TributaryTable *t = find_job_table(apply, table);
	List	   *added = NIL;
	List	   *gone = NIL;

	if (t == NULL || t->resyncing)
		return;

	/*
	 * another relation under the table's name than the one the job copied
	 * (the WAL says no more).  Inside the catch-up after a copy it is the
	 * table the copy replaced (changes before the copy's view): not the
	 * job's, relmap passes its changes, and a table created again after
	 * the view is still seen by part_watch.c, which compares OIDs.  Else
	 * the table was dropped and created again: before any of its changes,
	 * error stops the job, apply copies the table again (its changes
	 * until the worker is replaced are in that copy, so they are passed).
	 */
	if (t->source_oid != NULL && strcmp(t->source_oid, psprintf("%u", msg->relid)) != 0)
	{
		char	   *now = psprintf("%u", msg->relid);
		bool		was_gone = (strcmp(t->source_oid, "0") == 0);

		if (apply->idempotent && !was_gone)
			return;
		if (tributary_ddl_parts(apply, t, "drop_table",
								was_gone
								? "the table was created again under its name; the target holds the dropped table's rows"
								: "the table was dropped and created again under its name; the target holds the dropped table's rows",
								position, "jt_source_oid", now, true))
			t->resyncing = true;
		t->source_oid = MemoryContextStrdup(GetMemoryChunkContext(t), now);
		if (t->resyncing)
			return;
	}

	for (int i = 0; i < msg->natts; i++)
		if (!t->mapped && !column_known(t, msg->attrs[i].name))
			added = lappend_int(added, i);
	for (int c = 0; c < t->ncolumns; c++)
		if (t->columns[c].source && msg_has(msg, t->columns[c].source) < 0)
			gone = lappend(gone, t->columns[c].source);

	if (list_length(added) == 1 && list_length(gone) == 1)
	{
		int			i = linitial_int(added);
		char	   *old = linitial(gone);

		SPI_connect();
		if (ddl_act(apply, "rename_column", table,
					psprintf("column \"%s\" renamed to \"%s\"", old, msg->attrs[i].name), position, true))
			apply_rename(apply, t, old, msg->attrs[i].name);
		mark_accepted(t);
		SPI_finish();
	}
	else
	{
		ListCell   *lc;

		foreach(lc, gone)
			tributary_ddl_handle(apply, "drop_column", table,
								 psprintf("column \"%s\" dropped", (char *) lfirst(lc)), position,
								 (char *) lfirst(lc), NULL, 0);
		foreach(lc, added)
		{
			TribAttribute *a = &msg->attrs[lfirst_int(lc)];

			tributary_ddl_handle(apply, "add_column", table,
								 psprintf("column \"%s\" added (%s)", a->name, type_text(a->typoid, a->typmod)),
								 position, a->name, NULL, 0);
		}
	}
	for (int i = 0; prev_types && i < msg->natts; i++)
		for (int p = 0; p < prev_natts; p++)
			if (strcmp(prev_names[p], msg->attrs[i].name) == 0 &&
				(prev_types[p] != msg->attrs[i].typoid || prev_typmods[p] != msg->attrs[i].typmod) &&
				OidIsValid(prev_types[p]) && OidIsValid(msg->attrs[i].typoid))
			{
				TribAttribute *a = &msg->attrs[i];

				SPI_connect();
				if (ddl_act(apply, "alter_column_type", table,
							psprintf("column \"%s\" changed type from %s to %s", a->name,
									 type_text(prev_types[p], prev_typmods[p]), type_text(a->typoid, a->typmod)),
							position, true))
				{
					const char *known = job_column(t, a->name);

					/* a built-in type as the message says; another as the source describes it */
					if (known)
						apply_type(apply, t, known, a->typoid < FirstNormalObjectId ?
								   format_type_with_typemod(a->typoid, a->typmod) : NULL);
				}
				mark_accepted(t);
				SPI_finish();
			}
}
