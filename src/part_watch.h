/*-------------------------------------------------------------------------
 *
 * part_watch.h
 *		Partitions attached to or detached from a partitioned source table
 *		(see part_watch.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PART_WATCH_H
#define TRIBUTARY_PART_WATCH_H

#include "access/xlogdefs.h"
#include "apply/apply.h"
#include "catalog.h"
#include "source/connector.h"

extern char *tributary_parts_current(TributarySource *src, TributaryTable *t);
extern char *tributary_table_id_current(TributarySource *src, TributaryTable *t);
extern bool tributary_parts_watch(TributaryApplyState *apply, List *tables, XLogRecPtr position);

#endif							/* TRIBUTARY_PART_WATCH_H */
