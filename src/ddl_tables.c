/*-------------------------------------------------------------------------
 *
 * ddl_tables.c
 *		The ddl policy's apply of statements on whole source tables
 *		(ddl.c decides): drop_table, rename_table and truncate_table, with
 *		what they mean for a target other source tables are merged into
 *		(merge.c).
 *
 * Runs inside the local transaction of the source transaction, after the
 * targets kept open are released, as ddl.c's other applies.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "apply/apply_int.h"
#include "apply/copy_in.h"
#include "ddl.h"
#include "pg_tributary.h"
#include "security.h"

/*
 * tributary_ddl_drop_table: drop_table: the table leaves the job (its copy
 * progress with it); its target is dropped too when the job option
 * ddl_drop_target is true, else kept.  A target that other source tables
 * of the job are merged into is kept, without this source's rows when it
 * tells sources apart (merge.c).
 */
void
tributary_ddl_drop_table(TributaryApplyState *apply, TributaryTable *t)
{
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(t->id);
	char	   *target = quote_qualified_identifier(t->target_nsp, t->target_rel);
	bool		drop_target = false;
	bool		shared = false;
	bool		copied_other;

	{
		Datum		jarg = Int32GetDatum(apply->job->id);
		TributaryUserSave us = tributary_catalog_enter();

		if (SPI_execute_with_args("SELECT (tributary._effective_options(job_options)->>'ddl_drop_target')::boolean "
								  "FROM tributary.job WHERE job_id = $1", 1, &type, &jarg, NULL, true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			drop_target = !isnull && DatumGetBool(d);
		}
		tributary_catalog_leave(us);
	}
	/* a target other source tables feed too stays; only this source's rows go */
	if (drop_target && tributary_merge_shared(t, &copied_other))
	{
		drop_target = false;
		shared = true;
		if (t->source_column)
			tributary_merge_delete_source_rows(t, NULL, InvalidOid, 0);
	}
	tributary_ddl_exec_catalog("DELETE FROM tributary.job_table WHERE jt_id = $1", 1, &type, &arg);
	if (drop_target)
		tributary_ddl_exec(psprintf("DROP TABLE IF EXISTS %s", target), 0, NULL, NULL);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" removed source table [%s.%s], dropped on the source; target %s %s",
					apply->job->name, t->source_nsp, t->source_rel, target,
					drop_target ? "dropped (ddl_drop_target)" :
					shared ? "kept: other source tables are merged into it" : "kept")));
}

/*
 * tributary_ddl_rename_table: rename_table: the job follows the source table under
 * its new name ("db.table"); a target named after the source table takes
 * the new name too, another keeps its name (a mapping chosen by the user,
 * or a target other source tables are merged into).  A column that holds
 * the source table's name is set to the new one.
 */
void
tributary_ddl_rename_table(TributaryApplyState *apply, TributaryTable *t, const char *new_name)
{
	const char *dot = strchr(new_name, '.');
	char	   *nsp = dot ? pnstrdup(new_name, dot - new_name) : pstrdup(t->source_nsp);
	char	   *rel = pstrdup(dot ? dot + 1 : new_name);
	Oid			types[4] = {INT4OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4] = {Int32GetDatum(t->id), CStringGetTextDatum(nsp), CStringGetTextDatum(rel),
	CStringGetTextDatum(rel)};
	bool		copied_other;
	bool		follows_name = (strcmp(t->target_rel, t->source_rel) == 0 &&
								!tributary_merge_shared(t, &copied_other));

	/* rows that name the source table name it anew (merge.c) */
	if (t->source_column)
	{
		Oid			stypes[2] = {TEXTOID, TEXTOID};
		Datum		sargs[2] = {CStringGetTextDatum(psprintf("%s.%s", t->source_nsp, t->source_rel)),
		CStringGetTextDatum(psprintf("%s.%s", nsp, rel))};

		tributary_ddl_exec(psprintf("UPDATE %s SET %s = $2 WHERE %s = $1", quote_qualified_identifier(t->target_nsp, t->target_rel),
					  quote_identifier(t->source_column), quote_identifier(t->source_column)), 2, stypes, sargs);
	}
	if (follows_name)
		tributary_ddl_exec(psprintf("ALTER TABLE %s RENAME TO %s", quote_qualified_identifier(t->target_nsp, t->target_rel),
					  quote_identifier(rel)), 0, NULL, NULL);
	else
		args[3] = CStringGetTextDatum(t->target_rel);
	tributary_ddl_exec_catalog("UPDATE tributary.job_table SET jt_source_schema = $2, jt_source_rel = $3, jt_target_rel = $4 "
				 "WHERE jt_id = $1", 4, types, args);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" follows source table [%s.%s], renamed to [%s.%s]; target %s",
					apply->job->name, t->source_nsp, t->source_rel, nsp, rel,
					follows_name ? psprintf("renamed to %s", quote_qualified_identifier(t->target_nsp, rel))
					: psprintf("%s kept", quote_qualified_identifier(t->target_nsp, t->target_rel)))));
}

/*
 * tributary_ddl_truncate_table: truncate_table: as a truncate in the
 * stream (tributary_apply_truncate): nothing when the dml policy ignores
 * deletes, every row marked with soft deletes, only this source's rows of
 * a merged target that tells sources apart, else the whole target.
 */
void
tributary_ddl_truncate_table(TributaryApplyState *apply, TributaryTable *t)
{
	if (t->ignore_delete)
		return;
	if (t->delete_mark)
		tributary_soft_truncate(apply, t);
	else if (t->source_column)
		tributary_merge_delete_source_rows(t, NULL, InvalidOid, 0);
	else if (tributary_engine_target(tributary_target_relid(t, AccessExclusiveLock)))
		tributary_engine_truncate(quote_qualified_identifier(t->target_nsp, t->target_rel));
	else
		tributary_ddl_exec(psprintf("TRUNCATE %s", quote_qualified_identifier(t->target_nsp, t->target_rel)),
						   0, NULL, NULL);
}
