/*-------------------------------------------------------------------------
 *
 * follow.c
 *		Source tables created while a job runs that match a rule it follows
 *		(add_tables(..., follow => true)).
 *
 * Both source kinds are handled alike, by looking: every
 * heartbeat_interval, and before wait_for_sync answers, the streaming
 * worker of a job with followed rules calls tributary.follow_tables(), as
 * the job's owner, which lists the source's tables and adds those that
 * match a rule and are not in the job yet, each with add_table.  A
 * streaming job copies a table added to it while its other tables stream
 * (table_sync.c): the worker starts its stream again with the table, from
 * its checkpoint, copies the table in a view of its own and keeps its
 * changes after that view (the rows written between the table's creation
 * and the copy are in the copy).  A job still copying its tables has its
 * worker replaced instead, which copies the table before it streams.  A
 * MySQL job that meets the table's CREATE TABLE again in the binlog (it
 * resumes from its checkpoint, before it) passes it: the copy read the
 * table after that statement (stream.c, sink_ddl).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "follow.h"
#include "pg_tributary.h"
#include "security.h"

/*
 * tributary_follow_scan: add the tables created on the source that match
 * a rule job follows.  Returns how many were added (table_sync.c picks
 * them up, or the launcher replaces this worker).  Called between
 * transactions.
 */
int
tributary_follow_scan(TributaryJob *job)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(job->id);
	bool		follows = false;
	int			added = 0;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	{
		TributaryUserSave us = tributary_catalog_enter();

		if (SPI_execute_with_args("SELECT 1 FROM tributary.name_rule WHERE nr_job_id = $1 LIMIT 1",
								  1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read tributary.name_rule");
		follows = (SPI_processed > 0);
		tributary_catalog_leave(us);
	}
	if (follows)
	{
		Oid			ttype = TEXTOID;
		Datum		name = CStringGetTextDatum(job->name);
		bool		isnull;

		/* as the job's owner, through the API: add_table's checks apply */
		if (SPI_execute_with_args("SELECT tributary.follow_tables($1)", 1, &ttype, &name, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not run tributary.follow_tables");
		added = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (added > 0)
	{
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" added %d source table%s that match%s a rule it follows",
						job->name, added, added == 1 ? "" : "s", added == 1 ? "es" : "")));
		tributary_wakeup_launcher_now();	/* in case it replaces this worker */
	}
	return added;
}
