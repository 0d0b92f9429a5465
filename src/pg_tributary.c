/*-------------------------------------------------------------------------
 *
 * pg_tributary.c
 *		Module entry point: GUCs, shared memory and the launcher, all set
 *		up when the library is loaded through shared_preload_libraries.
 *
 * Loaded any other way (a plain LOAD, or the first call of one of its SQL
 * functions) the library only provides its SQL functions; the functions
 * that need the launcher say so with tributary_require_preloaded().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "pg_tributary.h"
#include "source/connector.h"

PG_MODULE_MAGIC;

char	   *tributary_database = NULL;
int			tributary_max_workers = 8;
bool		tributary_preloaded = false;

void		_PG_init(void);

/*
 * _PG_init: register the built-in source kinds; when preloaded, define the
 * GUCs, reserve shared memory and register the launcher.
 */
void
_PG_init(void)
{
	tributary_register_connector(&tributary_pg_connector);
	tributary_register_connector(&tributary_mysql_connector);

	/* PGC_POSTMASTER settings can only be defined at server start */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomStringVariable("tributary.database",
							   "Database whose jobs the pg_tributary launcher runs.",
							   NULL,
							   &tributary_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("tributary.max_workers",
							"Maximum number of pg_tributary job workers running at once.",
							"Each running job uses one background worker; max_worker_processes must leave room for them and the launcher.",
							&tributary_max_workers,
							8, 1, 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("tributary");

	tributary_preloaded = true;
	tributary_shmem_request();
	tributary_register_launcher();
	tributary_drop_guard_install();
}

PG_FUNCTION_INFO_V1(tributary_require_preloaded);

/*
 * tributary_require_preloaded: raise a clear error when the library was not
 * loaded at server start, because then no launcher runs jobs.
 */
Datum
tributary_require_preloaded(PG_FUNCTION_ARGS)
{
	if (!tributary_preloaded || TributaryShmem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_tributary is not loaded through shared_preload_libraries"),
				 errdetail("Jobs are run by background workers that are registered at server start."),
				 errhint("Add pg_tributary to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_VOID();
}
