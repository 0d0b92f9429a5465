/*-------------------------------------------------------------------------
 *
 * soft_delete.c
 *		Soft deletes: the job option dml {"delete": "mark:<column>"} keeps
 *		a deleted row on the target, its mark column set to the source's
 *		commit time (or true, for a boolean column); an insert of the key
 *		again clears the mark (apply.c calls these).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply/apply.h"
#include "apply/apply_int.h"
#include "apply/copy_in.h"
#include "security.h"

/*
 * tributary_soft_mark: soft deletes (dml delete "mark:<column>"): a row of slot with
 * its mark column set, deleted true (the source commit time, or true for
 * a boolean column) or false (NULL, or false).  from: the row to start
 * from (the found row of a delete), else slot's own values.
 */
void
tributary_soft_mark(ApplyRel *ar, TupleTableSlot *slot, TupleTableSlot *from, bool deleted, TimestampTz commit_ts)
{
	int			m = ar->mark_attno;
	int			natts = slot->tts_tupleDescriptor->natts;

	if (from != NULL)
	{
		slot_getallattrs(from);
		ExecClearTuple(slot);
		memcpy(slot->tts_values, from->tts_values, sizeof(Datum) * natts);
		memcpy(slot->tts_isnull, from->tts_isnull, sizeof(bool) * natts);
		ExecStoreVirtualTuple(slot);
	}
	slot_getallattrs(slot);
	if (ar->mark_type == BOOLOID)
	{
		slot->tts_values[m] = BoolGetDatum(deleted);
		slot->tts_isnull[m] = false;
	}
	else if (!deleted)
	{
		slot->tts_values[m] = (Datum) 0;
		slot->tts_isnull[m] = true;
	}
	else
	{
		TimestampTz ts = commit_ts != 0 ? commit_ts : GetCurrentTimestamp();

		slot->tts_values[m] = ar->mark_type == TIMESTAMPOID
			? DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(ts))
			: TimestampTzGetDatum(ts);
		slot->tts_isnull[m] = false;
	}
}

/*
 * tributary_soft_truncate: a truncate of a table whose deletes are soft (dml delete
 * "mark:<column>"): every row not marked yet is marked deleted at the
 * source's commit time.
 */
void
tributary_soft_truncate(TributaryApplyState *state, TributaryTable *t)
{
	char	   *target = quote_qualified_identifier(t->target_nsp, t->target_rel);
	const char *col = quote_identifier(t->delete_mark);
	Oid			relid = RangeVarGetRelid(makeRangeVar(t->target_nsp, t->target_rel, -1),
										 RowExclusiveLock, false);
	Oid			type = get_atttype(relid, get_attnum(relid, t->delete_mark));
	Oid			argtype = TIMESTAMPTZOID;
	Datum		arg = TimestampTzGetDatum(state->commit_ts != 0 ? state->commit_ts : GetCurrentTimestamp());
	char	   *sql;

	if (t->source_column)
	{
		/* a merged target: only this source's rows (merge.c) */
		tributary_apply_end_xact(state);
		tributary_merge_delete_source_rows(t, t->delete_mark, type, DatumGetTimestampTz(arg));
		state->changes++;
		return;
	}
	tributary_target_check(relid, GetUserId(), ACL_UPDATE, state->job->name);
	if (type == BOOLOID)
		sql = psprintf("UPDATE %s SET %s = true WHERE %s IS NOT TRUE", target, col, col);
	else
		sql = psprintf("UPDATE %s SET %s = $1 WHERE %s IS NULL", target, col, col);
	tributary_apply_end_xact(state);
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not run %s", sql);
	SPI_finish();
	PopActiveSnapshot();
	state->changes++;
}
