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
#include "change.h"

extern bool tributary_ddl_handle(TributaryApplyState *apply, const char *kind, const char *table,
								 const char *statement, XLogRecPtr position, const char *column,
								 const char *new_name, uint32 flags);
extern bool tributary_ddl_parts(TributaryApplyState *apply, TributaryTable *t, const char *kind,
							   const char *statement, XLogRecPtr position, const char *column,
							   const char *value, bool copy_on_apply);
extern void tributary_ddl_from_relation(TributaryApplyState *apply, TribRelation *msg, Oid *prev_types,
										int32 *prev_typmods, char **prev_names, int prev_natts,
										XLogRecPtr position);

#endif							/* TRIBUTARY_DDL_H */
