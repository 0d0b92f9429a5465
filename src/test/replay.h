/*-------------------------------------------------------------------------
 *
 * replay.h
 *		The replay test kind's file engine (replay_file.c), shared with its
 *		connector (replay_source.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_REPLAY_H
#define TRIBUTARY_REPLAY_H

#include "change.h"
#include "source/connector.h"

/* a table of the file */
typedef struct ReplayTable
{
	Oid			relid;			/* its number in the stream: 1 + its place in the file */
	char	   *name;			/* "schema.table" */
	int			ncols;
	char	  **colnames;
	char	  **coltypes;
	bool	   *iskey;
	List	   *rows;			/* char ** of ncols values, NULL for NULL */
	bool		announced;		/* the stream's sink knows its columns */
} ReplayTable;

/* the file replayed up to a position */
typedef struct ReplayState
{
	MemoryContext cxt;			/* tables and rows */
	List	   *tables;			/* ReplayTable */
	XLogRecPtr	pos;			/* 1 + offset of the next unread byte */
	bool		in_xact;
} ReplayState;

extern char *replay_read_from(TributarySource *src, const char *path, XLogRecPtr pos, Size *len);
extern ReplayTable *replay_find_table(ReplayState *rs, const char *name);
extern char *replay_key_text(ReplayTable *t, char **row);
extern void replay_line(TributarySource *src, ReplayState *rs, char *line, XLogRecPtr start,
						XLogRecPtr end, TributaryChangeSink *sink);
extern int	replay_until(TributarySource *src, const char *path, ReplayState *rs, int max_lines,
						 TributaryChangeSink *sink);
extern ReplayState *replay_new_state(void);
extern void replay_free_state(ReplayState *rs);

#endif							/* TRIBUTARY_REPLAY_H */
