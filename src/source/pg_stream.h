/*-------------------------------------------------------------------------
 *
 * pg_stream.h
 *		The change stream functions of the PostgreSQL connector (see
 *		pg_stream.c); pg_source.c puts them in its function table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PG_STREAM_H
#define TRIBUTARY_PG_STREAM_H

#include "source/connector.h"

extern void pg_stream_prepare(TributarySource *src, const char *slot, List *tables);
extern void pg_stream_fix_start(TributarySource *src, const char *slot, List *tables,
								XLogRecPtr *start_lsn, char **snapshot);
extern XLogRecPtr pg_current_position(TributarySource *src);
extern void pg_stream_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn,
							const char *start_text, List *tables, bool binary);
extern int	pg_stream_poll(TributarySource *src, struct TributaryChangeSink *sink, int budget);
extern void pg_stream_feedback(TributarySource *src, XLogRecPtr write, XLogRecPtr flush,
							   bool reply_requested);
extern pgsocket pg_stream_socket(TributarySource *src);
extern void pg_stream_close(TributarySource *src);
extern char *pg_drop_slot(TributarySource *src, const char *slot);

/* pg_parts.c */
extern List *pg_parts(TributarySource *src, struct TributaryTable *t, bool *partitioned);
extern List *pg_table_ids(TributarySource *src, List *tables);

#endif							/* TRIBUTARY_PG_STREAM_H */
