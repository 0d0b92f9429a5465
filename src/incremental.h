/*-------------------------------------------------------------------------
 *
 * incremental.h
 *		Job mode incremental: polling tables by an ascending column (see
 *		incremental.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_INCREMENTAL_H
#define TRIBUTARY_INCREMENTAL_H

#include "catalog.h"
#include "change.h"

extern void tributary_incremental_run(TributaryJob *job, List *tables,
									  void (*count_rows) (int64 rows),
									  bool (*sync_requested) (void));
extern void tributary_copy_text_row(char *line, int len, TribTuple *tuple, const char *table);

#endif							/* TRIBUTARY_INCREMENTAL_H */
