/*-------------------------------------------------------------------------
 *
 * merge.c
 *		Target tables fed by several source tables of one job (sharded
 *		tables merged, add_table's merge): emptying the rows of one source
 *		without touching the others'.
 *
 * A merged target tells its sources apart by a column whose expression is
 * tributary.source_table() (TributaryTable.source_column).  Where there is
 * one, a truncate of a source table, and the emptying before a copy of
 * it, delete the rows whose column names that source.  Without one, the
 * rows of one source cannot be told apart: the copy of a table empties
 * the target only when no other table of the target is copied yet (the
 * first table of a snapshot of them all), and a truncate follows the
 * job's ddl and dml policy for the whole target, as add_table warned.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "apply/copy_in.h"
#include "security.h"

/*
 * tributary_merge_shared: whether another table of t's job has t's target
 * too; *copied_other tells whether one of them is copied or being copied
 * (its rows may be in the target).  Reads the catalog in the caller's
 * transaction, so a table added since the worker started counts.
 */
bool
tributary_merge_shared(TributaryTable *t, bool *copied_other)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(t->id)};
	TributaryUserSave us = tributary_catalog_enter();
	bool		shared = false;
	bool		isnull;

	*copied_other = false;
	SPI_connect();
	if (SPI_execute_with_args("SELECT count(*) > 0, "
							  "       coalesce(bool_or(o.jt_state <> 'init' OR EXISTS "
							  "         (SELECT 1 FROM tributary.table_state s WHERE s.ts_jt_id = o.jt_id)), false) "
							  "  FROM tributary.job_table me JOIN tributary.job_table o "
							  "    ON o.jt_job_id = me.jt_job_id AND o.jt_id <> me.jt_id "
							  "   AND o.jt_target_schema = me.jt_target_schema AND o.jt_target_rel = me.jt_target_rel "
							  " WHERE me.jt_id = $1",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read tributary.job_table");
	shared = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*copied_other = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	tributary_catalog_leave(us);
	return shared;
}

/*
 * tributary_merge_delete_source_rows: delete the rows of t's source table
 * from its target, which tells sources apart by t->source_column, as the
 * job's owner (who needs DELETE, or UPDATE when mark is given: then the
 * rows are marked deleted at ts instead, soft deletes).  Runs in the
 * caller's transaction; the targets kept open must have been released.
 */
void
tributary_merge_delete_source_rows(TributaryTable *t, const char *mark, Oid mark_type, TimestampTz ts)
{
	char	   *target = quote_qualified_identifier(t->target_nsp, t->target_rel);
	const char *col = quote_identifier(t->source_column);
	Oid			relid = RangeVarGetRelid(makeRangeVar(t->target_nsp, t->target_rel, -1),
										 RowExclusiveLock, false);
	Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2];
	char	   *sql;
	int			rc;

	Assert(t->source_column != NULL);
	args[0] = CStringGetTextDatum(psprintf("%s.%s", t->source_nsp, t->source_rel));
	args[1] = TimestampTzGetDatum(ts);
	tributary_target_check(relid, GetUserId(), mark ? ACL_UPDATE : ACL_DELETE, t->job_name);
	if (mark == NULL)
		sql = psprintf("DELETE FROM %s%s WHERE %s = $1",
					   get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ", target, col);
	else if (mark_type == BOOLOID)
		sql = psprintf("UPDATE %s SET %s = true WHERE %s = $1 AND %s IS NOT TRUE",
					   target, quote_identifier(mark), col, quote_identifier(mark));
	else
		sql = psprintf("UPDATE %s SET %s = $2 WHERE %s = $1 AND %s IS NULL",
					   target, quote_identifier(mark), col, quote_identifier(mark));
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	rc = SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE && rc != SPI_OK_UPDATE)
		elog(ERROR, "could not run %s", sql);
	SPI_finish();
	PopActiveSnapshot();
}
