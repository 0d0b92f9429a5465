/*-------------------------------------------------------------------------
 *
 * held_xact.c
 *		The store of source transactions prepared for two-phase commit
 *		(MySQL / MariaDB XA) that a job's stream has passed and whose
 *		commit or rollback it has not: tributary.held_xact, one row per
 *		item, written in the local transaction that also records the
 *		stream's position past the prepare.
 *
 * Why on the target: the prepare and the XA COMMIT are separate groups of
 * the binlog, possibly hours and restarts apart.  The checkpoint must pass
 * the prepare (other transactions commit after it), so its changes have
 * to survive somewhere that commits with the checkpoint; the target
 * database is the only such place.  Items are the connector's own
 * encoding of the changes (for MySQL, the binlog events themselves), so
 * that they are decoded, mapped and applied at XA COMMIT exactly like any
 * other transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/snapmgr.h"

#include "held_xact.h"
#include "security.h"

static SPIPlanPtr hold_plan = NULL;

/*
 * tributary_held_put: keep item seq of prepared transaction xid of a job.
 * Runs in the open local transaction.
 */
void
tributary_held_put(int32 job_id, const char *xid, int32 seq, const char *data, uint32 len)
{
	Oid			argtypes[4] = {INT4OID, TEXTOID, INT4OID, BYTEAOID};
	Datum		args[4];
	bytea	   *b = palloc(VARHDRSZ + len);
	TributaryUserSave us;

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), data, len);
	args[0] = Int32GetDatum(job_id);
	args[1] = CStringGetTextDatum(xid);
	args[2] = Int32GetDatum(seq);
	args[3] = PointerGetDatum(b);
	us = tributary_catalog_enter();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	/* planned once per process: a large XA transaction holds many items */
	if (hold_plan == NULL)
	{
		hold_plan = SPI_prepare("INSERT INTO tributary.held_xact (hx_job_id, hx_xid, hx_seq, hx_item) "
								"VALUES ($1, $2, $3, $4)", 4, argtypes);
		if (hold_plan == NULL || SPI_keepplan(hold_plan) != 0)
			elog(ERROR, "could not prepare the held transaction statement");
	}
	if (SPI_execute_plan(hold_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not hold an item of prepared transaction %s", xid);
	SPI_finish();
	PopActiveSnapshot();
	tributary_catalog_leave(us);
	pfree(b);
}

/*
 * tributary_held_get: up to max items of xid after item "after", in
 * order, copied into the caller's memory context; *prepared tells whether
 * the prepare itself (item 0) is held (looked up when after is 0, else
 * true).
 */
List *
tributary_held_get(int32 job_id, const char *xid, int32 after, int max, bool *prepared)
{
	Oid			argtypes[4] = {INT4OID, TEXTOID, INT4OID, INT4OID};
	Datum		args[4];
	MemoryContext cxt = CurrentMemoryContext;
	List	   *items = NIL;
	TributaryUserSave us;

	args[0] = Int32GetDatum(job_id);
	args[1] = CStringGetTextDatum(xid);
	args[2] = Int32GetDatum(after);
	args[3] = Int32GetDatum(max);
	us = tributary_catalog_enter();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	/* whether the prepare was held: asked with the first batch only */
	*prepared = true;
	if (after == 0)
	{
		bool		isnull;

		if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM tributary.held_xact "
								  "WHERE hx_job_id = $1 AND hx_xid = $2 AND hx_seq = 0)",
								  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not look up prepared transaction %s", xid);
		*prepared = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (SPI_execute_with_args("SELECT hx_item FROM tributary.held_xact "
							  "WHERE hx_job_id = $1 AND hx_xid = $2 AND hx_seq > $3 "
							  "ORDER BY hx_seq LIMIT $4",
							  4, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read prepared transaction %s", xid);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old;

		if (isnull)
			elog(ERROR, "prepared transaction %s has a null item", xid);
		old = MemoryContextSwitchTo(cxt);
		items = lappend(items, DatumGetByteaPCopy(d));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	tributary_catalog_leave(us);
	return items;
}

/*
 * tributary_held_drop: forget everything held for xid.
 */
void
tributary_held_drop(int32 job_id, const char *xid)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	TributaryUserSave us;

	args[0] = Int32GetDatum(job_id);
	args[1] = CStringGetTextDatum(xid);
	us = tributary_catalog_enter();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM tributary.held_xact WHERE hx_job_id = $1 AND hx_xid = $2",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not forget prepared transaction %s", xid);
	SPI_finish();
	PopActiveSnapshot();
	tributary_catalog_leave(us);
}
