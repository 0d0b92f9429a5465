/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		Catalog reads from C (see catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CATALOG_H
#define TRIBUTARY_CATALOG_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "source/connector.h"

/* a job as its worker sees it */
typedef struct TributaryJob
{
	int32		id;
	char	   *name;
	char	   *mode;			/* full, cdc, full+cdc or incremental */
	char	   *options_json;	/* effective options, defaults filled in */
	int32		generation;
	int64		chunk_rows;		/* option snapshot_chunk_rows */
	int			parallelism;	/* option parallelism.default */
	int			checkpoint_ms;	/* option execution.checkpointing.interval */
	int			num_retained;	/* option state.checkpoints.num-retained */
	char	   *start_position; /* option start_position (cdc) */
	char	   *slot;			/* change capture: the source slot, or NULL */
	char	   *decoder;		/* the slot's decoder */
	char	   *stream_start;	/* position the slot was created at */
	char	   *catchup_until;	/* idempotent apply up to here */
	char	   *checkpoint;		/* position of the last checkpoint, or NULL */
	int64		checkpoint_seq; /* its number (0: none yet) */
	bool		dirty_skip;		/* option dirty_data = skip */
	int64		dirty_limit;	/* option dirty_data_limit, -1 = none */
	int			poll_ms;		/* option poll_interval (incremental) */
	int64		poll_rows;		/* option poll_batch_rows (incremental) */
	TributarySource *source;
} TributaryJob;

/* one copied column: target name and source column or expression */
typedef struct TributaryColumn
{
	char	   *target;
	char	   *source;			/* source column name, or NULL */
	char	   *expr;			/* source expression, or NULL */
} TributaryColumn;

/* a source column a snapshot reads: its name and the target's spelling of its type */
typedef struct TributaryReadColumn
{
	char	   *name;
	char	   *type;			/* NULL: not known here (read as text only) */
} TributaryReadColumn;

/* a job table as the worker sees it */
typedef struct TributaryTable
{
	int32		id;				/* jt_id */
	char	   *job_name;		/* for messages */
	char	   *source_nsp;
	char	   *source_rel;
	char	   *target_nsp;
	char	   *target_rel;
	char	   *filter;
	char	   *state;			/* jt_state */
	List	   *key_columns;	/* source key column names (char *) */
	int			ncolumns;
	TributaryColumn *columns;
	int			nread;			/* the source columns snapshots read */
	TributaryReadColumn *read;
	bool		transformed;	/* has a filter or an expression column */
	bool		planned;		/* its snapshot chunks are recorded */
	int32		chunks_left;	/* chunks not copied yet */
	bool		snapshot_done;	/* every chunk is copied */
	int			copy_format;	/* this process: -1 not decided, 0 text, 1 binary */
	char	   *source_from;	/* this process: the table as a FROM item, set by the connector */
	bool		ignore_insert;	/* job option dml */
	bool		ignore_update;
	bool		ignore_delete;
	char	   *delete_mark;	/* job option dml delete "mark:<column>": soft deletes into it */
	bool		all_columns;	/* every source column is copied (no column map, no DDL passed) */
	bool		mapped;			/* add_table was given a column map */
	char	   *source_parts;	/* jt_source_parts: leaves of a partitioned source table */
	char	   *source_oid;		/* jt_source_oid: the source table's identity */
	bool		resyncing;		/* this process: to be copied again; its changes wait */
	char	   *incremental_column; /* jt_incremental_column (mode incremental) */
	char	   *incremental_last;	/* jt_incremental_last: poll key of the last row applied */
	bool		buffering;		/* this process: copied again while the job streams
								 * (table_sync.c); its changes are kept */
	char	   *source_column;	/* target column whose expression is
								 * tributary.source_table(), or NULL (merge.c) */
} TributaryTable;

extern TributaryJob *tributary_job_load(int32 job_id);
extern List *tributary_job_tables_load(int32 job_id);
extern List *tributary_table_names(List *tables);
extern char *spi_text(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt);

#endif							/* TRIBUTARY_CATALOG_H */
