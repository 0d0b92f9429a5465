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

/* ddl.c, for ddl_tables.c */
extern void tributary_ddl_exec(const char *sql, int nargs, Oid *types, Datum *args);
extern void tributary_ddl_exec_catalog(const char *sql, int nargs, Oid *types, Datum *args);

/* ddl_tables.c */
extern void tributary_ddl_drop_table(TributaryApplyState *apply, TributaryTable *t);
extern void tributary_ddl_rename_table(TributaryApplyState *apply, TributaryTable *t, const char *new_name);
extern void tributary_ddl_truncate_table(TributaryApplyState *apply, TributaryTable *t);

#endif							/* TRIBUTARY_DDL_H */
