/*-------------------------------------------------------------------------
 *
 * copy_in.h
 *		Loading rows into a target table with COPY (see copy_in.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_COPY_IN_H
#define TRIBUTARY_COPY_IN_H

#include "catalog.h"
#include "commands/copy.h"
#include "utils/relcache.h"

/* hands out COPY text data: a block and its length, or -1 at the end */
typedef int (*TributaryCopyReader) (void *arg, char **buf);

extern void tributary_truncate_target(TributaryTable *t, List *job_tables);

/* write_engine.c */
extern uint64 tributary_engine_copy(TributaryTable *t, Relation rel, TributaryCopyReader reader, void *arg);
extern bool tributary_engine_can_copy(Relation rel);
extern uint64 tributary_engine_copy_from(Relation rel, CopyFromState cstate);

/* merge.c */
extern bool tributary_merge_shared(TributaryTable *t, bool *copied_other);
extern void tributary_merge_delete_source_rows(TributaryTable *t, const char *mark, Oid mark_type,
											   TimestampTz ts);
extern uint64 tributary_copy_into(TributaryTable *t, TributaryCopyReader reader, void *arg,
								  bool binary);
extern bool tributary_copy_can_be_binary(TributaryTable *t, List *source_types);

/* copy_transform.c */
extern int	tributary_copy_unescape(char *s, int len);
extern uint64 tributary_copy_transformed(TributaryTable *t, TributaryCopyReader inner,
										 void *inner_arg);

#endif							/* TRIBUTARY_COPY_IN_H */
