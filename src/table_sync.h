/*-------------------------------------------------------------------------
 *
 * table_sync.h
 *		Copying one table of a job again while the job streams (see
 *		table_sync.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_TABLE_SYNC_H
#define TRIBUTARY_TABLE_SYNC_H

#include "apply/apply.h"
#include "catalog.h"
#include "change.h"
#include "lib/stringinfo.h"

typedef struct TributaryTableSync TributaryTableSync;

/* what tributary_table_sync_step leaves */
typedef enum TributaryTableSyncLeft
{
	TABLE_SYNC_DONE,			/* nothing to copy */
	TABLE_SYNC_MORE,			/* more steps to take */
	TABLE_SYNC_RELOAD			/* a table was added: the stream starts again with it */
} TributaryTableSyncLeft;

extern TributaryTableSync *tributary_table_sync_create(TributaryJob *job, List *tables,
													   TributaryApplyState *apply);
extern bool tributary_table_sync_change(TributaryTableSync *ts, char op, Oid relid,
										TribTuple *oldtuple, TribTuple *newtuple);
extern void tributary_table_sync_truncate(TributaryTableSync *ts, int nrelids, Oid *relids);
extern void tributary_table_sync_relation(TributaryTableSync *ts, TribRelation *rel, bool keep);
extern void tributary_table_sync_ddl(TributaryTableSync *ts, const char *table, const char *kind);
extern bool tributary_table_sync_due(TributaryTableSync *ts, bool idle);
extern TributaryTableSyncLeft tributary_table_sync_step(TributaryTableSync *ts, XLogRecPtr passed);
extern bool tributary_table_sync_copies(TributaryTableSync *ts, const char *table);
extern void tributary_table_sync_close(void);

/* sync_change.c */
extern void tributary_sync_encode_relation(StringInfo buf, TribRelation *rel);
extern TribRelation *tributary_sync_decode_relation(const char *data, int len);
extern void tributary_sync_relation_columns(StringInfo buf, TribRelation *rel);
extern void tributary_sync_encode_tuple(StringInfo buf, TribTuple *tuple);
extern void tributary_sync_keep(TributaryApplyState *apply, int32 jt_id, int64 seq, char kind,
								StringInfo data);
extern void tributary_sync_apply_kept(TributaryApplyState *live, TributaryTable *t);

#endif							/* TRIBUTARY_TABLE_SYNC_H */
