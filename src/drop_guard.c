/*-------------------------------------------------------------------------
 *
 * drop_guard.c
 *		Refuse to drop the extension while jobs exist.
 *
 * A job owns a replication slot on its PostgreSQL source, which keeps WAL
 * there until it is dropped.  DROP EXTENSION (or DROP SCHEMA tributary
 * CASCADE) would forget the jobs and orphan their slots silently, so while
 * jobs exist it is refused with a hint to drop them first: drop_job drops
 * each job's slot.  The check is a ProcessUtility hook, installed when the
 * library is preloaded (as it must be for jobs to run at all).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "pg_tributary.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * drops_us: whether a DROP removes the extension (by name, or its schema
 * with CASCADE).
 */
static bool
drops_us(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_EXTENSION &&
		!(stmt->removeType == OBJECT_SCHEMA && stmt->behavior == DROP_CASCADE))
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *obj = (Node *) lfirst(lc);

		if (!IsA(obj, String))
			continue;
		if (stmt->removeType == OBJECT_EXTENSION && strcmp(strVal(obj), "pg_tributary") == 0)
			return true;
		if (stmt->removeType == OBJECT_SCHEMA && strcmp(strVal(obj), "tributary") == 0)
			return true;
	}
	return false;
}

/*
 * check_no_jobs: the error for dropping the extension while jobs exist.
 * Only the extension's owner gets this far (others get PostgreSQL's own
 * permission error).
 */
static void
check_no_jobs(void)
{
	Oid			extoid = get_extension_oid("pg_tributary", true);
	char	   *jobs = NULL;

	if (!OidIsValid(extoid) || !pg_extension_ownercheck(extoid, GetUserId()))
		return;
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT pg_catalog.string_agg(job_name, ', ' ORDER BY job_name) FROM tributary.job",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v)
			jobs = MemoryContextStrdup(TopTransactionContext, v);
	}
	SPI_finish();
	PopActiveSnapshot();
	if (jobs != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop extension pg_tributary while jobs exist"),
				 errdetail("Jobs: %s.  Their replication slots on the sources would be left behind, keeping WAL there.",
						   jobs),
				 errhint("Drop the jobs first with tributary.drop_job(), which drops their slots.")));
}

/*
 * tributary_process_utility: the hook.
 */
static void
tributary_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						  ProcessUtilityContext context, ParamListInfo params,
						  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropStmt) && drops_us((DropStmt *) parsetree))
		check_no_jobs();
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/*
 * tributary_drop_guard_install: install the hook (from _PG_init).
 */
void
tributary_drop_guard_install(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = tributary_process_utility;
}
