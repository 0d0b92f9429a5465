/*-------------------------------------------------------------------------
 *
 * test_module.c
 *		tributary_test.so: what only tests use, kept out of the production
 *		library: SQL renderings of the stream readers for pg_regress
 *		(protocol_check.c, binlog_check.c) and the replay source kind
 *		(replay_source.c), registered when the library is preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "test/test_module.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init: when preloaded (after pg_tributary), register the test-only
 * source kinds; loaded for its SQL functions alone, do nothing.
 */
void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		tributary_test_register_kinds();
}
