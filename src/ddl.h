/*-------------------------------------------------------------------------
 *
 * ddl.h
 *		Source schema changes and the job's ddl policy (see ddl.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_DDL_H
#define TRIBUTARY_DDL_H

#include "access/xlogdefs.h"
#include "apply/apply.h"

/* the MESSAGE prefix under which connectors pass DDL on job tables */
#define TRIBUTARY_DDL_PREFIX	"tributary.ddl"

extern void tributary_ddl_handle(TributaryApplyState *apply, const char *content, uint32 len,
								 XLogRecPtr position);

#endif							/* TRIBUTARY_DDL_H */
